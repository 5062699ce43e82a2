// `make demo-web`: serves the repository on 127.0.0.1 and prints the demo page's address.
import { serve } from '../test/server.js';

const root = new URL('../..', import.meta.url).pathname;
const { url } = await serve(root, Number(process.env.PORT ?? 8080));
console.log(`regprune delete preview: ${url}/npm/demo/index.html  (Ctrl-C to stop)`);
