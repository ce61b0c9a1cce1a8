/** Schemas shared by routes: the error body and the public shapes of the pinned model. */
import { Type, type TSchema } from 'typebox';

export const ErrorBody = Type.Object({ error: Type.String(), message: Type.String() });

/** Response schemas for the listed error statuses, all with the same body. */
export function errors<const C extends readonly number[]>(...codes: C): { [K in C[number]]: typeof ErrorBody } {
  return Object.fromEntries(codes.map((c) => [c, ErrorBody])) as { [K in C[number]]: typeof ErrorBody };
}

/** Documents a JSON object without constraining its keys (the detailed model lives in src/model). */
export const Doc = (description: string): TSchema => Type.Object({}, { additionalProperties: true, description });

export const Cursor = Type.Optional(Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$', description: 'next_cursor of the previous page' }));
export const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 }));

/** An optional JSON body: absent (no content) or the given object. */
export const OptionalBody = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
