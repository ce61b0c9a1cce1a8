/** Every `fido` subcommand; add one file per command and list its register function here. */
import type { Command } from 'commander';
import { register as start } from './start.js';
import { register as config } from './config.js';
import { register as ingest } from './ingest.js';
import { register as demo } from './demo.js';
import { register as lookup } from './lookup.js';
import { register as normalize } from './normalize.js';
import { register as detectors } from './detectors.js';
import { register as score } from './score.js';
import { register as policy } from './policy.js';
import { register as backtest } from './backtest.js';
import { register as actions } from './actions.js';
import { register as users } from './users.js';
import { register as receivers } from './receivers.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [start, config, ingest, demo, lookup, normalize, detectors, score, policy, backtest, actions, users, receivers];
