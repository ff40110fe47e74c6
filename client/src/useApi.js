import { useEffect, useState } from "react";

/**
 * Run `load(signal)` on mount and answer `{ loading, response, error }`.
 * `response` is what `load` resolved to; `error` is set when it rejected (the
 * network failed). A request still running when the component goes away is aborted.
 */
export function useApi(load) {
  const [result, setResult] = useState({ loading: true, response: null, error: null });
  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal).then(
      (response) => setResult({ loading: false, response, error: null }),
      (error) => {
        if (!controller.signal.aborted) setResult({ loading: false, response: null, error });
      },
    );
    return () => controller.abort();
    // Each screen loads once; App remounts it (by key) to load again.
  }, []);
  return result;
}
