/** Every receiver kind Fido ships (one file each in receivers/); `sources[].receiver.kind` names one (default http). */
import { discoverComponents } from '../component/discover.js';
import { instantiate, markChecked, wasChecked } from '../component/instantiate.js';
import type { SourceConfig } from '../config/schema.js';
import type { Receiver, ReceiverComponent, ReceiverDeps } from './receiver.js';

export const receiverKinds: readonly ReceiverComponent[] = await discoverComponents(new URL('./receivers/', import.meta.url), 'receiver');

/**
 * Builds the receivers of `sources` that run a task of their own (component/instantiate.ts); a source without
 * a `receiver:` section is received over HTTP. Each entry is the source's receiver section with its name.
 */
export async function createReceivers(sources: readonly SourceConfig[], deps: ReceiverDeps): Promise<Receiver[]> {
  const out: Receiver[] = [];
  try {
    for (const source of sources) {
      const entry = { name: source.name, ...(source.receiver ?? { kind: 'http' }) };
      if (source.receiver && wasChecked(source.receiver)) markChecked(entry);
      const [built] = await instantiate({ path: 'sources', what: 'receiver', key: (e) => `sources.${e.name}.receiver` }, receiverKinds, [entry], { ...deps, source });
      if (built?.instance) out.push(built.instance);
    }
  } catch (e) {
    await Promise.allSettled(out.map((r) => r.stop()));
    throw e;
  }
  return out;
}
