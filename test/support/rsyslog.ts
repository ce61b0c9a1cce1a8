/**
 * A private rsyslogd (real-parts.md §6): its own config, pid file and work dir in a temp dir, no system socket.
 * Inputs: a private unix socket (`logger -u <socket>`) and imfile on `<dir>/app.log`; output: omfwd over TCP to
 * `forwardPort`, RFC 5424 (RSYSLOG_SyslogProtocol23Format), octet-counted. Start the listener first.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait.js';

export const RSYSLOGD = '/usr/sbin/rsyslogd';

export interface Rsyslog {
  dir: string;
  /** The private unix socket its imuxsock input reads. */
  socket: string;
  /** The file its imfile input follows. */
  appLog: string;
  /** Sends one message through `logger` (util-linux) into the socket. */
  logger(args: readonly string[], message: string): void;
  stop(): Promise<void>;
}

export async function startRsyslog(dir: string, forwardPort: number): Promise<Rsyslog> {
  const work = join(dir, 'work');
  mkdirSync(work, { recursive: true });
  const socket = join(dir, 'log.sock');
  const appLog = join(dir, 'app.log');
  writeFileSync(appLog, '');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `global(workDirectory="${work}" processInternalMessages="on")
module(load="imuxsock" SysSock.Use="off")
module(load="imfile" PollingInterval="1")
input(type="imuxsock" Socket="${socket}" CreatePath="on" UseSpecialParser="off" ParseHostname="on" Ruleset="fwd")
input(type="imfile" File="${appLog}" Tag="edr-agent" Severity="warning" Facility="local3" freshStartTail="off" Ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="${forwardPort}" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
       action.resumeRetryCount="-1" action.resumeInterval="1"
       queue.type="LinkedList" queue.size="10000")
}
`,
  );
  execFileSync(RSYSLOGD, ['-N1', '-f', conf], { stdio: 'pipe' });
  const child: ChildProcess = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  await waitFor(`rsyslogd socket ${socket} (${output})`, () => existsSync(socket) || child.exitCode !== null, 10_000, 10);
  if (child.exitCode !== null) throw new Error(`rsyslogd exited ${child.exitCode}: ${output}`);
  return {
    dir,
    socket,
    appLog,
    logger(args, message) {
      execFileSync('logger', ['-u', socket, ...args, message], { stdio: 'pipe' });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
