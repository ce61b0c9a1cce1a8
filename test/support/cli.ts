/** Calling CLI commands in-process: streams that collect what a command writes to stdout and stderr. */
import { PassThrough } from 'node:stream';

export interface CapturedOutput {
  out: PassThrough;
  err: PassThrough;
  /** Everything written to `out` so far. */
  stdout(): string;
  /** Everything written to `err` so far. */
  stderr(): string;
}

export function captureOutput(): CapturedOutput {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  return { out, err, stdout: () => stdout, stderr: () => stderr };
}
