/**
 * What the proxy's refusals mean, as domain errors: proxy/ reads the status and the text of an
 * answer (src/proxy/meaning.ts) and throws one of these; the kinds decide what to do with them by
 * their class alone and never read a status or a message. Each is exit 4 (a ProxyRefusedError)
 * with the message a refusal of that call always had, so one that nobody handles reads as before.
 * `answer` is the proxy's answer behind it (also its `cause`).
 */
import { ProxyRefusedError } from '../errors.ts';

type Options = { hint?: string; cause?: unknown };

/** The proxy's answer behind a refusal (a ProxyHttpError of client.ts). */
export interface ProxyAnswer {
  status: number;
  proxyMessage: string;
  /** `METHOD route answered status type: message`. */
  message: string;
}

/** A refusal of the proxy that means something to the caller. */
export class ProxyMeaningError extends ProxyRefusedError {
  constructor(
    message: string,
    readonly answer: ProxyAnswer | undefined,
    options: Options = {},
  ) {
    super(message, { ...options, cause: options.cause ?? answer });
  }

  /** What the proxy answered (its status and message), for a message. */
  get answered(): { status: string; message: string } {
    return this.answer ? { status: String(this.answer.status), message: this.answer.proxyMessage } : { status: 'an error', message: this.message };
  }
}

/** The key (or row) asked about is not on the proxy: LiteLLM's own "not found", never a missing route. */
export class NotFoundError extends ProxyMeaningError {}

/** /key/generate refused the alias because a key already holds it. */
export class AliasTakenError extends ProxyMeaningError {}

/** The proxy's key_alias rule (its format validation or `key_alias_pattern`) refused an alias; `rule` is the proxy's words. */
export class AliasFormatError extends ProxyMeaningError {
  constructor(
    message: string,
    answer: ProxyAnswer,
    readonly rule: string,
    options: Options = {},
  ) {
    super(message, answer, options);
  }
}

/** /key/update answered 401 or 404 for the key it names: every error of that route is an auth_error, so the key is looked up again. */
export class KeyUpdateRefusedError extends ProxyMeaningError {}

/**
 * The proxy will not do what this route does: it has no such route (405, FastAPI's bare 404: an
 * older version, a gateway), it is unlicensed (an Enterprise feature), or (a listing) it refuses it
 * for a reason other than the master key. The caller may do without it.
 */
export class RouteRefusedError extends ProxyMeaningError {}

/** /model/new refused our deterministic id: the model is registered already (another run, meanwhile). */
export class ModelIdTakenError extends ProxyMeaningError {}

/** /team/new refused our deterministic team_id: the team exists already (another run, meanwhile). */
export class TeamIdTakenError extends ProxyMeaningError {}

/**
 * Exit 4: the proxy refuses to store models. The message names what was not done (the run adds what
 * was) and both places model storage is set: the STORE_MODEL_IN_DB environment variable, and a
 * `store_model_in_db` stored in the proxy's database (LiteLLM's UI, /config/field/update), which
 * wins over the variable (LiteLLM #31968), with how to see the stored one.
 */
export class ModelStorageOffError extends ProxyMeaningError {
  constructor(
    readonly notApplied: string[],
    answer: ProxyAnswer | undefined,
  ) {
    super(
      `the proxy cannot store models (STORE_MODEL_IN_DB is off, or store_model_in_db stored in the proxy's database is false, which wins over the variable): model(s) ${notApplied.map((n) => JSON.stringify(n)).join(', ')} not registered`,
      answer,
      {
        hint:
          "set STORE_MODEL_IN_DB=True in the proxy's environment and restart it; if it already is, the setting stored in the proxy's database is in force: " +
          'see it with GET /config/field/info?field_name=store_model_in_db (master key; a 400 "... not in DB" means none is stored and the variable is in force) and set it to true in LiteLLM\'s UI or with POST /config/field/update; ' +
          'or add the model(s) to proxy_config.yaml (model_list); then run the bootstrap again',
      },
    );
  }

  /** The same refusal, naming the models not registered. */
  naming(notApplied: string[]): ModelStorageOffError {
    return new ModelStorageOffError(notApplied, this.answer);
  }
}

/**
 * PROXY_BASE_URL names the gateway component of a split LiteLLM deployment: it serves no
 * management routes (src/proxy/refusals.ts missingManagementRoutes).
 */
export class GatewayOnlyError extends ProxyMeaningError {}
