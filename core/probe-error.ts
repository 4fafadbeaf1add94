// An error a probe reports to its user: what went wrong and what to do.
// privilege: run as root; feature: the kernel or system lacks something;
// input: a bad option (a filter that does not compile, a missing interface).
export class ProbeError extends Error {
  constructor(
    readonly kind: 'privilege' | 'feature' | 'input',
    message: string,
  ) {
    super(message);
  }
}
