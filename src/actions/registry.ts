/** Every action kind Fido ships; `actions.targets[].kind` names one. */
import type { ActionKind } from './action.js';

export const actionKinds: readonly ActionKind[] = [];
