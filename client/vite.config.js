import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` forwards the API to the lab running on its own (python -m sessionlab.paywall).
const API = process.env.PAYWALL_API ?? "http://127.0.0.1:5555";

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the lab serves the build at `/`, and the demo site mounts
  // the whole lab under a prefix such as /paywall/.
  base: "./",
  server: {
    proxy: {
      "/articles": API,
      "/clear": API,
    },
  },
  test: {
    environment: "jsdom",
    // Serve the tests from a prefix, so they prove the API is called relative to the page.
    environmentOptions: { jsdom: { url: "http://localhost/paywall/" } },
    setupFiles: ["./src/test-setup.js"],
    testTimeout: 20_000,
    restoreMocks: true,
    unstubGlobals: true,
  },
});
