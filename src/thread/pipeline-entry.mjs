// Entry of the pipeline thread (thread/pipeline.ts): the sources are TypeScript, run through tsx as in bin/fido.js.
import { register } from 'tsx/esm/api';
register();
await import('./pipeline-main.ts');
