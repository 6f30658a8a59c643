// k6 provides a console (its log output) that @types/k6 does not declare.
declare const console: { log(...data: unknown[]): void; warn(...data: unknown[]): void; error(...data: unknown[]): void };
