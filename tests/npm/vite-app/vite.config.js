// The dev server (`npm run dev`) forwards the API to a keeper-server, so the page and the API
// share an origin as they do in production, where keeper-server serves the build
// (`keeper-server --static-dir dist`).
import { defineConfig } from "vite";

export default defineConfig({
  server: {
    proxy: { "/api": process.env.KEEPER_URL ?? "http://127.0.0.1:8080" },
  },
});
