/** The `http` receiver kind: records arrive on POST /api/v1/alerts/{source}; the API serves it, so no task. */
import { Type } from 'typebox';
import type { ReceiverKind } from './receiver.js';

const httpReceiver: ReceiverKind = {
  kind: 'http',
  description: 'POST /api/v1/alerts/{source} (JSON, JSON array, NDJSON or text lines)',
  configSchema: Type.Object({ name: Type.String(), kind: Type.Literal('http') }, { additionalProperties: false }),
  create: () => null,
};
export default httpReceiver;
