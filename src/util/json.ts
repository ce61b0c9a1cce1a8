/** Parses JSON stored by Fido itself; a corrupt row throws with the table named instead of a bare SyntaxError. */
export function parseStored<T>(text: string | null, what: string): T | null {
  if (text == null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`stored ${what} is not valid JSON`);
  }
}
