/** `fido start`: runs Fido in this process until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { loadConfig, ConfigInvalidError } from '../../config/load.js';
import { startFido } from '../../app.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('Start Fido (API, intake, pipeline, actions as FIDO_ROLE says) with FIDO_CONFIG or the demo config')
    .option('-c, --config <file>', 'config file (default: $FIDO_CONFIG, else the demo configuration)')
    .action(async (opts: { config?: string }) => {
      let loaded;
      try {
        loaded = await loadConfig(opts.config);
      } catch (e) {
        process.stderr.write(`${e instanceof ConfigInvalidError ? e.message : `fido: ${(e as Error).message}`}\n`);
        process.exitCode = 1;
        return;
      }
      let firstToken: string | null = null;
      let firstUser: { name: string; password: string } | null = null;
      let fido;
      try {
        fido = await startFido({ loaded, pipelineThread: true, warmUp: true, onBootstrapToken: (t) => (firstToken = t), onBootstrapUser: (a) => (firstUser = a) });
      } catch (e) {
        // What started was stopped again (app.ts): the process ends with the message instead of running without its API.
        process.stderr.write(`fido start: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const out = [`Fido is running: ${fido.url ?? '(no API in this role)'}`, `config: ${loaded.file} (version ${loaded.version})`, `store: ${fido.store.dialect}`];
      if (firstToken) {
        out.push(
          '',
          'No API token was configured, so an admin token was created. It is shown only this once:',
          `  ${firstToken}`,
          `Try: curl -H "Authorization: Bearer ${firstToken}" ${fido.url}/api/v1/incidents`,
          `     npx fido demo --url ${fido.url} --token ${firstToken}`,
        );
      }
      if (fido.url) out.push(`web app: ${fido.url}/`);
      if (firstUser) {
        const { name, password } = firstUser as { name: string; password: string };
        out.push(
          '',
          'The web app had no account, so one was created. Its password is shown only this once:',
          `  name: ${name}`,
          `  password: ${password}`,
          `Sign in at ${fido.url}/login, then set your own password: fido users passwd ${name}`,
        );
      }
      process.stdout.write(`${out.join('\n')}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void fido.stop().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
