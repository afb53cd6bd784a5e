/**
 * What marks a proxy object (a key, a model) as the bootstrap's: `metadata.provisioned_by` of every
 * key it issues, `model_info.provisioned_by` of every model it registers. Every kind uses the same
 * marker.
 */
export const PROVISIONED_BY = 'llm-proxy-bootstrap';
