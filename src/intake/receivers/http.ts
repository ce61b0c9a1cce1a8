/** The `http` receiver kind: records arrive on POST /api/v1/alerts/{source}; the API serves it, so no task. */
import { Type } from 'typebox';
import { defineReceiver } from '../receiver.js';

export default defineReceiver({
  kind: 'http',
  description: 'POST /api/v1/alerts/{source} (JSON, JSON array, NDJSON or text lines)',
  schema: Type.Object({ name: Type.String(), kind: Type.Literal('http') }, { additionalProperties: false }),
  create: async () => null,
});
