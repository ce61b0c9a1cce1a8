/**
 * `fido actions approve ID`, `fido actions deny ID --reason TEXT`, `fido actions pending`: approvals from a
 * shell on the Fido host, as POST /actions/{id}/approve and /deny give them (actor `cli:<login name>`).
 *
 * `fido actions undo ID [--reason TEXT]`: queues the undo of a succeeded action of a reversible kind in the
 * store Fido runs on (FIDO_DATABASE_URL, else the SQLite file under FIDO_DATA_DIR), exactly as the API's
 * POST /actions/{id}/undo does; a running executor picks it up. The actor recorded is `cli:<login name>`.
 * Prints the undo action as JSON. Exit 1 when there is no such action or it cannot be undone.
 *
 * `fido actions kill-switch on|off|status --reason TEXT`: the containment kill switch (actions/kill-switch.ts),
 * as PUT /api/v1/kill-switch sets it; `actions.kill_switch: true` in the configuration holds it on regardless.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Store } from '../../store/store.js';
import { withCliStore } from '../store.js';
import { readKillSwitch, setKillSwitch } from '../../actions/kill-switch.js';
import { undoAction } from '../../actions/undo.js';
import { ActionStateError, approveAction, denyAction } from '../../actions/approvals.js';
import { listActions } from '../../actions/list.js';

export function register(program: Command): void {
  const actions = program.command('actions').description('The action outbox');
  actions
    .command('kill-switch <state>')
    .description('on: stop every containment action everywhere at once (queued ones wait); off: allow it again; status: show it')
    .option('--reason <text>', 'why (required for on and off; kept in the audit log)')
    .action(async (state: string, opts: { reason?: string }) => {
      if (!['on', 'off', 'status'].includes(state)) {
        process.stderr.write('fido actions kill-switch: say on, off or status\n');
        process.exitCode = 2;
        return;
      }
      if (state !== 'status' && !opts.reason?.trim()) {
        process.stderr.write(`fido actions kill-switch ${state}: --reason is required (it goes to the audit log)\n`);
        process.exitCode = 2;
        return;
      }
      await withStore('kill-switch', async (store) => {
        const s = state === 'status' ? await readKillSwitch(store.db) : await setKillSwitch(store, state === 'on', `cli:${userInfo().username}`, opts.reason!);
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      });
    });
  const settle = (verb: 'approve' | 'deny') =>
    actions
      .command(`${verb} <id>`)
      .description(verb === 'approve' ? 'Approve an action that awaits approval (it runs next)' : 'Deny an action that awaits approval')
      .option('--reason <text>', verb === 'deny' ? 'why (kept with the action and in the audit log)' : 'ignored for approve')
      .action(async (id: string, opts: { reason?: string }) => {
        await withStore(verb, async (store) => {
          const actor = `cli:${userInfo().username}`;
          try {
            const a = verb === 'approve' ? await approveAction(store, id, actor) : await denyAction(store, id, actor, opts.reason ?? '');
            process.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
          } catch (e) {
            if (!(e instanceof ActionStateError)) throw e;
            process.stderr.write(`fido actions ${verb}: ${e.message}\n`);
            process.exitCode = 1;
          }
        });
      });
  settle('approve');
  settle('deny');
  actions
    .command('pending')
    .description('List the actions that wait for approval (id, incident, kind → target, why, deadline)')
    .action(async () => {
      await withStore('pending', async (store) => {
        const page = await listActions(store.db, { state: 'awaiting_approval', limit: 200 });
        for (const a of page.items) {
          const why = a.held_by ? ` held by ${a.held_by}` : '';
          const due = a.approval_due_at ? ` (default "${a.approval_default}" at ${a.approval_due_at})` : '';
          process.stdout.write(`${a.id}  ${a.incident_id}  ${a.kind} → ${a.target}${why}${due}\n`);
        }
        if (page.items.length === 0) process.stdout.write('no action waits for approval\n');
      });
    });
  actions
    .command('undo <id>')
    .description('Undo a succeeded action of a reversible kind (queued once; the executor runs it)')
    .option('--reason <text>', 'why, for the timeline and the audit log')
    .action(async (id: string, opts: { reason?: string }) => {
      await withStore('undo', async (store) => {
        try {
          const undo = await undoAction(store, id, { actor: `cli:${userInfo().username}`, why: opts.reason?.trim() || 'undone by hand' });
          process.stdout.write(`${JSON.stringify(undo, null, 2)}\n`);
        } catch (e) {
          if (!(e instanceof ActionStateError)) throw e;
          process.stderr.write(`fido actions undo: ${e.message}\n`);
          process.exitCode = 1;
        }
      });
    });
}

/** The store Fido runs on (FIDO_DATABASE_URL, else the SQLite file under FIDO_DATA_DIR); never creates one. */
const withStore = (command: string, fn: (store: Store) => Promise<void>) => withCliStore(`actions ${command}`, fn);
