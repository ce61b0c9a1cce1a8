/**
 * `fido users`: the web app's accounts in the store Fido runs on. Passwords are never taken on the command
 * line (they would sit in the shell's history and the process list): `--password-stdin` reads one line, and
 * without it a strong one is made and printed once.
 *
 *   fido users add NAME --role analyst       fido users list
 *   fido users passwd NAME                   fido users role NAME ROLE
 *   fido users unlock NAME                   fido users disable|enable NAME
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ROLES } from '../../api/auth.js';
import { createUser, listUsers, newPassword, roleOf, updateUser } from '../../web/accounts.js';
import { withCliStore } from '../store.js';

function passwordFrom(opts: { passwordStdin?: boolean }): { password: string; made: boolean } {
  if (!opts.passwordStdin) return { password: newPassword(), made: true };
  const line = readFileSync(0, 'utf8').split(/\r?\n/)[0] ?? '';
  return { password: line, made: false };
}

function fail(command: string, message: string, code = 1): void {
  process.stderr.write(`fido users ${command}: ${message}\n`);
  process.exitCode = code;
}

export function register(program: Command): void {
  const users = program.command('users').description("The web app's accounts (sign-in by password; OIDC accounts appear at their first sign-in)");

  users
    .command('add <name>')
    .description('Add an account; prints the password it made unless --password-stdin gives one')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (name: string, opts: { role: string; passwordStdin?: boolean }) => {
      let role;
      try {
        role = roleOf(opts.role);
      } catch (e) {
        return fail('add', (e as Error).message, 2);
      }
      const { password, made } = passwordFrom(opts);
      await withCliStore('users add', async (store) => {
        try {
          await createUser(store.db, { name, role, password });
        } catch (e) {
          return fail('add', (e as Error).message);
        }
        process.stdout.write(made ? `added ${name} (${role}); password, shown only this once: ${password}\n` : `added ${name} (${role})\n`);
      });
    });

  users
    .command('list')
    .description('List accounts as JSON (name, role, how they sign in, last sign-in, disabled, locked until)')
    .action(async () => {
      await withCliStore('users list', async (store) => {
        process.stdout.write(`${JSON.stringify(await listUsers(store.db), null, 2)}\n`);
      });
    });

  const change = (
    command: string,
    description: string,
    what: (args: string[], opts: { passwordStdin?: boolean }) => Parameters<typeof updateUser>[2] | string,
    done: (name: string, extra: string) => string,
    withRole = false,
  ) => {
    const c = users.command(withRole ? `${command} <name> <role>` : `${command} <name>`).description(description);
    if (command === 'passwd') c.option('--password-stdin', 'read the password from the first line of standard input');
    c.action(async (...args: unknown[]) => {
      const positional = args.filter((a): a is string => typeof a === 'string');
      const opts = (args.find((a) => typeof a === 'object' && a !== null && !('commands' in a)) ?? {}) as { passwordStdin?: boolean };
      const name = positional[0]!;
      const changeOrError = what(positional, opts);
      if (typeof changeOrError === 'string') return fail(command, changeOrError, 2);
      await withCliStore(`users ${command}`, async (store) => {
        let found;
        try {
          found = await updateUser(store.db, name, changeOrError);
        } catch (e) {
          return fail(command, (e as Error).message);
        }
        if (!found) return fail(command, `no user named "${name}"`);
        process.stdout.write(`${done(name, changeOrError.password && !opts.passwordStdin ? changeOrError.password : '')}\n`);
      });
    });
  };

  change(
    'passwd',
    "Set an account's password (ends its sessions and lifts a lockout); prints the one it made unless --password-stdin gives one",
    (_a, opts) => ({ password: passwordFrom(opts).password }),
    (name, made) => (made ? `password of ${name} set; shown only this once: ${made}` : `password of ${name} set`),
  );
  change(
    'role',
    "Set an account's role (ends its sessions)",
    ([, role]) => {
      try {
        return { role: roleOf(role ?? '') };
      } catch (e) {
        return (e as Error).message;
      }
    },
    (name) => `role of ${name} set`,
    true,
  );
  change('unlock', 'Lift the lockout after failed sign-ins', () => ({ unlock: true }), (name) => `${name} unlocked`);
  change('disable', 'Disable an account (ends its sessions; it cannot sign in)', () => ({ disabled: true }), (name) => `${name} disabled`);
  change('enable', 'Enable a disabled account', () => ({ disabled: false }), (name) => `${name} enabled`);
}
