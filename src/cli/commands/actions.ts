/**
 * `fido actions undo ID [--reason TEXT]`: queues the undo of a succeeded action of a reversible kind in the
 * store Fido runs on (FIDO_DATABASE_URL, else the SQLite file under FIDO_DATA_DIR), exactly as the API's
 * POST /actions/{id}/undo does; a running executor picks it up. The actor recorded is `cli:<login name>`.
 * Prints the undo action as JSON. Exit 1 when there is no such action or it cannot be undone.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { openStore } from '../../store/store.js';
import { undoAction } from '../../actions/undo.js';
import { ActionStateError } from '../../actions/approvals.js';

export function register(program: Command): void {
  const actions = program.command('actions').description('The action outbox');
  actions
    .command('undo <id>')
    .description('Undo a succeeded action of a reversible kind (queued once; the executor runs it)')
    .option('--reason <text>', 'why, for the timeline and the audit log')
    .action(async (id: string, opts: { reason?: string }) => {
      const dataDir = resolve(process.env.FIDO_DATA_DIR ?? './data');
      if (!process.env.FIDO_DATABASE_URL && !existsSync(join(dataDir, 'fido.db'))) {
        process.stderr.write(`fido actions undo: no store at ${dataDir} (set FIDO_DATA_DIR or FIDO_DATABASE_URL)\n`);
        process.exitCode = 1;
        return;
      }
      const store = await openStore({ databaseUrl: process.env.FIDO_DATABASE_URL, dataDir });
      try {
        const undo = await undoAction(store, id, { actor: `cli:${userInfo().username}`, why: opts.reason?.trim() || 'undone by hand' });
        process.stdout.write(`${JSON.stringify(undo, null, 2)}\n`);
      } catch (e) {
        if (!(e instanceof ActionStateError)) throw e;
        process.stderr.write(`fido actions undo: ${e.message}\n`);
        process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}
