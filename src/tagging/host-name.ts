const LABEL = /^[a-z0-9_-]{1,63}$/i;
const MAX_LENGTH = 253;

/**
 * A host name as apps look them up and rules name them: labels of letters, digits, '-'
 * and '_', 1 to 63 each, at most 253 characters, an optional final dot. DNS can carry more
 * (any byte in a label), but a name outside this set typed on a command line or sent to
 * the API is a mistake, not a host; internationalised names are written in their xn-- form.
 */
export function isHostName(name: string): boolean {
  const text = name.endsWith('.') ? name.slice(0, -1) : name;
  if (text.length === 0 || text.length > MAX_LENGTH) return false;
  for (const label of text.split('.')) if (!LABEL.test(label)) return false;
  return true;
}
