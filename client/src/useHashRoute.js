import { useEffect, useState } from "react";

// Hash routing: the server never sees the route, so no catch-all route is needed
// wherever the build is mounted.
const ARTICLE = /^#\/articles\/([^/]+)$/;

/** Parse a location hash into `{ name: "list" }` or `{ name: "article", id }`. */
export function parseHash(hash) {
  const match = ARTICLE.exec(hash);
  return match ? { name: "article", id: decodeURIComponent(match[1]) } : { name: "list" };
}

export const articleHref = (id) => `#/articles/${encodeURIComponent(id)}`;
export const LIST_HREF = "#/";

/** Follow `window.location.hash` and answer the current route. */
export function useHashRoute() {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const update = () => setHash(window.location.hash);
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return parseHash(hash);
}
