/** Every receiver kind Fido ships; `sources[].receiver.kind` names one (default http). */
import type { ReceiverKind } from './receiver.js';
import http from './http.js';
import file from './file.js';

export const receiverKinds: readonly ReceiverKind[] = [http, file];
