import { useEffect, useState } from "react";
import ArticleList from "./ArticleList.jsx";
import ArticlePage from "./ArticlePage.jsx";
import { clearSession } from "./api.js";
import { ErrorMessage, failureText } from "./Messages.jsx";
import { LIST_HREF, useHashRoute } from "./useHashRoute.js";

/** The paywall lab's client: a header with the Clear control above the current screen. */
export default function App() {
  const route = useHashRoute();
  const [clearing, setClearing] = useState(false);
  const [notice, setNotice] = useState(null);
  const [listVersion, setListVersion] = useState(0);

  // A notice about clearing belongs to the list it returned to, not to the next article.
  useEffect(() => {
    if (route.name === "article") setNotice(null);
  }, [route.name, route.id]);

  async function clear() {
    setClearing(true);
    setNotice(null);
    try {
      const { status } = await clearSession();
      setNotice(status === 200 ? { ok: true } : { ok: false, text: failureText(null, status) });
    } catch (error) {
      setNotice({ ok: false, text: failureText(error) });
    } finally {
      setClearing(false);
    }
    // Back to the list, loaded afresh even if it is already showing.
    setListVersion((version) => version + 1);
    window.location.hash = LIST_HREF;
  }

  return (
    <>
      <header>
        <h1>
          <a href={LIST_HREF}>Paywall lab</a>
        </h1>
        <button type="button" onClick={clear} disabled={clearing} data-testid="clear">
          Clear
        </button>
      </header>
      {notice?.ok && (
        <p role="status" data-testid="cleared">
          Page views cleared. You can read again.
        </p>
      )}
      {notice && !notice.ok && <ErrorMessage>{notice.text}</ErrorMessage>}
      <main>
        {route.name === "article" ? (
          <ArticlePage key={route.id} id={route.id} />
        ) : (
          <ArticleList key={listVersion} />
        )}
      </main>
    </>
  );
}
