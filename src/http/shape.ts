/**
 * The proxy's JSON answers, as zod schemas: just what the bootstrap reads.
 * Unknown fields are kept (LiteLLM adds fields all the time); a field we read
 * with the wrong type fails with its path, never with its value.
 */
import * as z from 'zod';

export class ShapeError extends Error {}

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish();

export const keyInfoSchema = z.looseObject({
  key_alias: nullish(z.string()),
  models: nullish(z.array(z.string())),
  user_id: nullish(z.string()),
  metadata: nullish(z.record(z.string(), z.unknown())),
  expires: nullish(z.string()),
  blocked: nullish(z.boolean()),
  max_budget: nullish(z.number()),
  budget_duration: nullish(z.string()),
  token: nullish(z.string()),
  spend: nullish(z.number()),
  team_id: nullish(z.string()),
  tpm_limit: nullish(z.number()),
  rpm_limit: nullish(z.number()),
  max_parallel_requests: nullish(z.number()),
  allowed_routes: nullish(z.array(z.unknown())),
  // Proxy-side rotation (LiteLLM PR #14877): absent in older versions.
  auto_rotate: nullish(z.boolean()),
  rotation_count: nullish(z.number()),
  last_rotation_at: nullish(z.string()),
  key_rotation_at: nullish(z.string()),
  // When the proxy issued the key (its clock): with `expires`, the life it gave the key.
  created_at: nullish(z.string()),
});

/** `GET /key/info` */
export const keyInfoAnswer = z.looseObject({ info: keyInfoSchema });
/** `GET /key/list?return_full_object=true` (older proxies list hashes) */
export const keyListAnswer = z.looseObject({ keys: z.array(z.union([z.string(), keyInfoSchema])), total_pages: nullish(z.number()), total_count: nullish(z.number()) });
/** `POST /key/generate` */
export const generateAnswer = z.looseObject({ key: z.string().min(1), token: nullish(z.string()), token_id: nullish(z.string()), expires: nullish(z.string()), created_at: nullish(z.string()) });
/** `GET /model/info`: config and stored deployments (stored ones: model_info.db_model true, custom fields kept, api_key removed). */
export const modelInfoAnswer = z.looseObject({
  data: z.array(
    z.looseObject({
      model_name: nullish(z.string()),
      litellm_params: nullish(z.record(z.string(), z.unknown())),
      model_info: nullish(z.looseObject({ id: nullish(z.string()), db_model: nullish(z.boolean()) })),
    }),
  ),
});

/** What a team's and a user's row both carry: metadata, models, budget and limits (LiteLLM's LiteLLM_TeamTable / LiteLLM_UserTable). */
const budgetFields = {
  metadata: nullish(z.record(z.string(), z.unknown())),
  models: nullish(z.array(z.string())),
  max_budget: nullish(z.number()),
  budget_duration: nullish(z.string()),
  tpm_limit: nullish(z.number()),
  rpm_limit: nullish(z.number()),
};

/** A team as `GET /team/list` lists it (team_endpoints.list_team: the row, its memberships and keys; only these fields are read). */
export const teamSchema = z.looseObject({
  team_id: z.string().min(1),
  team_alias: nullish(z.string()),
  ...budgetFields,
  max_parallel_requests: nullish(z.number()),
});
/** `GET /team/list`: every team, one list. */
export const teamListAnswer = z.array(teamSchema);

/** A user as `GET /user/list` lists it (internal_user_endpoints.get_users). */
export const userSchema = z.looseObject({
  user_id: z.string().min(1),
  ...budgetFields,
});
/** `GET /user/list`: a page of users. */
export const userListAnswer = z.looseObject({ users: z.array(userSchema), total_pages: nullish(z.number()) });

/** LiteLLM's model cost map (`litellm.model_cost`): model name → its entry; only `litellm_provider` is read. */
export const modelCostMapAnswer = z.record(z.string(), z.unknown());

/**
 * What a key LiteLLM issues looks like: `sk-` and URL-safe base64 (`secrets.token_urlsafe`, 22
 * characters today), whatever the version. A key outside this shape is not written anywhere: it
 * lands in `.env`, the agent's file and Secrets, which shells source and YAML tools read.
 */
export const LITELLM_KEY_SHAPE = /^sk-[A-Za-z0-9_-]{16,128}$/;

/** Checks `body` against `schema`; a ShapeError names the first field at fault and what was expected. */
export function checkAnswer<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body, { reportInput: false });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  // A union reports each branch; the deepest issue says most.
  const inner = issue.code === 'invalid_union' ? issue.errors.flat().sort((a, b) => b.path.length - a.path.length)[0] : undefined;
  const path = [...issue.path, ...(inner?.path ?? [])].join('.');
  throw new ShapeError(`${path || 'the answer'}: ${(inner ?? issue).message.replace(/^Invalid input: /, '')}`);
}
