/** Schemas shared by routes: the error body and the public shapes of the pinned model. */
import { Type, type TProperties, type TSchema } from 'typebox';
import { ERROR_CODES } from '../errors.js';

/** The one body of every error answer (api/errors.ts builds it). */
export const ErrorBody = Type.Object(
  {
    error: Type.Union(ERROR_CODES.map((c) => Type.Literal(c)), { description: 'what kind of error (errors.ts)' }),
    message: Type.String({ description: 'what is wrong, naming the part of the request at fault' }),
    allowed: Type.Optional(Type.Array(Type.String(), { description: 'what would have been accepted (values, content types, names)' })),
  },
  { description: 'An error answer' },
);

/** Response schemas for the listed error statuses, all with the same body. */
export function errors<const C extends readonly number[]>(...codes: C): { [K in C[number]]: typeof ErrorBody } {
  return Object.fromEntries(codes.map((c) => [c, ErrorBody])) as { [K in C[number]]: typeof ErrorBody };
}


export const Cursor = Type.Optional(Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$', description: 'next_cursor of the previous page' }));
export const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 }));

/** An optional JSON body: absent (no content) or the given object. */
export const OptionalBody = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A query string: only the listed parameters; an unknown one is refused by name (validation.ts), not ignored. */
export const Query = <P extends TProperties>(properties: P) => Type.Object(properties, { additionalProperties: false });
