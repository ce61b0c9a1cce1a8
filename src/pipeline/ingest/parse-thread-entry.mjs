// Entry of the parse thread (parse-thread.ts): the sources are TypeScript, run through tsx as in bin/fido.js.
import { register } from 'tsx/esm/api';
register();
await import('./parse-thread-main.ts');
