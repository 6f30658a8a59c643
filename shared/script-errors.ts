/**
 * Lua scripts answer a domain failure with a small negative integer (BullMQ's convention); each module
 * names its codes in one table, and this one function turns a reply into that module's typed error.
 */
export function replyChecker<C extends string>(
  module: string,
  table: Record<number, readonly [C, string]>,
  toError: (code: C, message: string) => Error,
): <T>(reply: T | number) => T {
  return <T>(reply: T | number): T => {
    if (typeof reply === 'number' && reply < 0) {
      const known = table[reply];
      if (!known) throw new Error(`${module} script returned unknown code ${reply}`);
      throw toError(known[0], known[1]);
    }
    return reply as T;
  };
}
