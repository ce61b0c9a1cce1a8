/** What the policy tests share: the usual action targets and one CEL sandbox per test file. */
import { after } from 'node:test';
import { CelSandbox } from '../../src/policy/sandbox.js';

/** Action target name → kind: an e-mail and a webhook target. */
export const MAIL_AND_WEBHOOK = new Map([
  ['soc-mail', 'email'],
  ['soar-webhook', 'webhook'],
]);

/** A CEL sandbox for this file's tests, closed after them. */
export function fileSandbox(): CelSandbox {
  const sandbox = new CelSandbox();
  after(() => sandbox.close());
  return sandbox;
}
