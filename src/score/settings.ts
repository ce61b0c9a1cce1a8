/** The pieces the scoring engines' settings schemas share (engines/*.ts): points, weights, name lists. */
import { Type, type TSchema } from 'typebox';

export const Points = (description?: string) => Type.Integer({ minimum: -100, maximum: 100, ...(description ? { description } : {}) });
export const Weight = (description?: string) => Type.Number({ minimum: -1000, maximum: 1000, ...(description ? { description } : {}) });
export const Names = (description: string) => Type.Array(Type.String({ minLength: 1 }), { description });
export const Obj = <T extends Record<string, TSchema>>(props: T, description?: string) =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
export const Range = { min: Points('Lowest points this component may contribute'), max: Points('Highest points this component may contribute') };
export const CriticalityPoints = Obj({ low: Points(), medium: Points(), high: Points(), critical: Points() });
