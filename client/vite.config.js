import { cpSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` forwards the API to the lab running on its own (python -m sessionlab.paywall).
const API = process.env.PAYWALL_API ?? "http://127.0.0.1:5555";
const DIST = fileURLToPath(new URL("./dist", import.meta.url));
// Where the lab serves the client from: package data of sessionlab.paywall, shipped in the wheel.
const PACKAGED = fileURLToPath(new URL("../src/sessionlab/paywall/client", import.meta.url));

// After a build, replace the packaged copy with the fresh one in dist/.
const packageIntoTheLab = {
  name: "package-into-the-lab",
  apply: "build",
  closeBundle() {
    rmSync(PACKAGED, { recursive: true, force: true });
    cpSync(DIST, PACKAGED, { recursive: true });
  },
};

export default defineConfig({
  plugins: [react(), packageIntoTheLab],
  // Relative asset URLs: the lab serves the build at `/`, and the demo site mounts
  // the whole lab under a prefix such as /paywall/.
  base: "./",
  build: { outDir: DIST },
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
