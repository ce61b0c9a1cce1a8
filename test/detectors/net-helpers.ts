/**
 * Helpers for the network-product detector tests (snort, zeek, cisco_ftd, panos, panos_globalprotect,
 * fortigate, sophos_xg): parse with a fixed reception time, finalise like the pipeline does, and a set of
 * records of other formats that a detector must not claim.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AlertDraft } from '../../src/model/alert.js';
import { ParseError, type ContextEvent, type Detector } from '../../src/detectors/detector.js';
import { withParseContext } from '../../src/detectors/lib/context.js';
import { finalizeAlert } from '../../src/detectors/lib/observables.js';
import { rawRecord } from '../../src/detectors/lib/registry.js';

/** Reception time used for year inference and for records without a time. */
export const RECEIVED = new Date('2024-12-01T00:00:00Z');

export interface ParseOpts {
  receivedAt?: Date;
  timeZone?: string;
}

function run<T>(opts: ParseOpts, fn: () => T): T {
  return withParseContext({ receivedAt: opts.receivedAt ?? RECEIVED, timeZone: opts.timeZone ?? 'UTC' }, fn);
}

/** Parses and finalises; fails the test unless the outcome is alerts. */
export function alertsOf(d: Detector, text: string, opts: ParseOpts = {}): AlertDraft[] {
  const out = run(opts, () => d.parse(rawRecord(text)));
  assert.equal(out.kind, 'alerts', `expected alerts, got ${JSON.stringify(out).slice(0, 300)}`);
  if (out.kind !== 'alerts') throw new Error('unreachable');
  assert.ok(out.alerts.length > 0, 'no alerts');
  return out.alerts.map((a) => finalizeAlert(a));
}

export function alertOf(d: Detector, text: string, opts: ParseOpts = {}): AlertDraft {
  const all = alertsOf(d, text, opts);
  assert.equal(all.length, 1, `expected one alert, got ${all.length}`);
  return all[0]!;
}

export function contextOf(d: Detector, text: string, opts: ParseOpts = {}): ContextEvent[] {
  const out = run(opts, () => d.parse(rawRecord(text)));
  assert.equal(out.kind, 'context', `expected context, got ${JSON.stringify(out).slice(0, 300)}`);
  if (out.kind !== 'context') throw new Error('unreachable');
  assert.ok(out.events.length > 0, 'no context events');
  for (const e of out.events) assert.ok(Number.isFinite(Date.parse(e.time)), `bad context time ${e.time}`);
  return out.events;
}

/** Asserts a ParseError and returns its reason. */
export function reasonOf(d: Detector, text: string, opts: ParseOpts = {}): string {
  try {
    const out = run(opts, () => d.parse(rawRecord(text)));
    assert.fail(`expected a ParseError, got ${JSON.stringify(out).slice(0, 300)}`);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    assert.ok(e.message.length > 0);
    return e.message;
  }
}

/**
 * The contract on any input: sniff is a number in [0, 1] and never throws; parse either throws ParseError
 * or returns an outcome whose alerts pass finalizeAlert (which may itself refuse with ParseError).
 */
export function holdsContract(d: Detector, text: string, opts: ParseOpts = {}): void {
  const rec = rawRecord(text);
  const s = d.sniff(rec);
  assert.ok(typeof s === 'number' && s >= 0 && s <= 1, `sniff returned ${s}`);
  try {
    const out = run(opts, () => d.parse(rec));
    if (out.kind === 'alerts') for (const a of out.alerts) finalizeAlert(a);
    else for (const e of out.events) assert.equal(typeof e.kind, 'string');
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
}

export function sniff(d: Detector, text: string): number {
  return d.sniff(rawRecord(text));
}

/** Arbitrary text, and `base` with arbitrary text inserted anywhere, hold the contract (fast-check, 300 runs). */
export function junkHoldsContract(d: Detector, base: string, maxJunk = 300): void {
  fc.assert(
    fc.property(fc.string({ maxLength: maxJunk }), fc.integer({ min: 0, max: base.length }), (junk, at) => {
      holdsContract(d, junk);
      holdsContract(d, base.slice(0, at) + junk + base.slice(at));
    }),
    { numRuns: 300 },
  );
}

/** One record of each neighbouring format, labelled. */
export const OTHER_FORMATS: Record<string, string> = {
  cef: '<134>Feb 14 19:04:54 dsm CEF:0|Trend Micro|Deep Security Manager|10.0|600|User Signed In|3|src=10.52.116.160 suser=admin target=admin msg=User signed in from 2001:db8::5',
  leef: 'LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81',
  suricata: '{"timestamp":"2024-01-02T03:04:05.123456+0000","flow_id":1,"event_type":"alert","src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","alert":{"signature_id":1,"signature":"x","severity":1}}',
  fortigate: 'date=2024-05-01 time=10:00:00 devname="FG100" devid="FG100E4Q17000001" logid="0419016384" type="utm" subtype="ips" level="alert" vd="root" srcip=10.0.0.1 dstip=10.0.0.2 attack="X" attackid=1 severity="high" action="dropped"',
  sophos_xg: 'device="SFW" date=2024-05-01 time=10:00:00 timezone="CET" device_name="XG" device_id=C01 log_id=020703406001 log_type="IDP" log_component="Anomaly" log_subtype="Detect" priority=Warning signature_id=1 signature_msg="x" src_ip=10.0.0.1 dst_ip=10.0.0.2',
  panos: '<14>Apr  9 20:43:30 fw01 1,2024/04/09 20:43:29,012345678901,THREAT,vulnerability,2561,2024/04/09 20:43:29,10.0.0.1,10.0.0.2,0.0.0.0,0.0.0.0,rule,,,web-browsing,vsys1,in,out,e1/1,e1/2,lf,2024/04/09 20:43:29,1,1,1234,80,0,0,0x0,tcp,alert,"x",Test Threat(12345),any,high,client-to-server,1,0x0,US,US,0',
  globalprotect: '<14>Mar  2 11:01:03 fw01 1,2021/03/02 11:01:03,012345678901,GLOBALPROTECT,0,2305,2021/03/02 11:01:02,vsys1,gateway-connected,connected,,IPSec,corp\\alice,US,LAPTOP-1,198.51.100.7,0.0.0.0,10.200.0.5,0.0.0.0,hostid,SER,5.2.4,Windows,"Windows 10",1,,,,success,,0,user-logon,0,GP-GW,100,0x0',
  ftd: '<113>2021-08-25T14:55:13Z ftd01 %FTD-1-430001: SrcIP: 10.0.0.1, DstIP: 10.0.0.2, GID: 1, SID: 1000, Revision: 1, Message: x, Priority: 2',
  asa: '<164>Jul 16 10:22:41 ASA-5516 : %ASA-4-106023: Deny tcp src outside:185.220.101.44/51000 dst inside:10.10.1.11/3389 by access-group "outside_access_in" [0x0, 0x0]',
  snort: '05/30-19:09:10.917356  [**] [1:527:8] BAD-TRAFFIC same SRC/DST [**] [Classification: Potentially Bad Traffic] [Priority: 2] {UDP} 0.0.0.0:68 -> 255.255.255.255:67',
  snort_csv: '09/04-21:45:37.536335 ,1,1000006,0,"TCP connection",TCP,10.100.20.59,57263,10.100.10.190,22,00:25:90:3A:05:13,00:50:56:9D:A5:BE,0x72,***AP***,0x688F0DFC,0xBC763516,,0x80C,127,0,55665,100,102400,,,,',
  zeek_json: '{"ts":1617097929.601155,"uid":"CmvrSS1wIiuOGYCbfi","id.orig_h":"10.156.0.2","id.orig_p":48818,"id.resp_h":"89.160.20.156","id.resp_p":443,"note":"SSL::Invalid_Server_Cert","msg":"SSL certificate validation failed","actions":["Notice::ACTION_LOG"]}',
  zeek_tsv: '1617097929.601155\tCmvrSS1wIiuOGYCbfi\t10.156.0.2\t48818\t89.160.20.156\t443\t-\t-\t-\ttcp\tSSL::Invalid_Server_Cert\tSSL certificate validation failed\t-\t10.156.0.2\t89.160.20.156\t443\t-\t-\tNotice::ACTION_LOG\t(empty)\t3600.000000\t-\t-\t-\t-\t-',
  generic_csv: 'name,email,created\nalice,alice@example.com,2024-01-01',
  generic_csv_line: '2024/01/02 03:04:05,alice,login,10.0.0.1,success',
  plain_syslog: '<34>Oct 11 22:14:15 mymachine su: \'su root\' failed for lonvick on /dev/pts/8',
  json_other: '{"eventType":"user.session.start","actor":{"alternateId":"alice@example.com"},"published":"2024-01-01T00:00:00Z"}',
  kv_other: 'time=2024-01-01T00:00:00Z level=info msg="hello world" user=alice',
};

/** Every other-format record except those named. */
export function othersExcept(...names: string[]): Array<[string, string]> {
  return Object.entries(OTHER_FORMATS).filter(([k]) => !names.includes(k));
}

/** The detector sniffs every other-format record except those named below the registry threshold. */
export function assertOthersSniffLow(d: Detector, ...except: string[]): void {
  for (const [name, text] of othersExcept(...except)) assert.ok(sniff(d, text) < 0.5, `${name} sniffed ${sniff(d, text)}`);
}
