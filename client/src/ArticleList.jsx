import { listArticles } from "./api.js";
import { ErrorMessage, failureText, Loading } from "./Messages.jsx";
import { useApi } from "./useApi.js";
import { articleHref } from "./useHashRoute.js";

/** The list of articles; each title opens its article page. */
export default function ArticleList() {
  const { loading, response, error } = useApi((signal) => listArticles({ signal }));
  if (loading) return <Loading />;
  if (error || response.status !== 200 || !Array.isArray(response.body)) {
    return <ErrorMessage>{failureText(error, response?.status)}</ErrorMessage>;
  }
  if (response.body.length === 0) return <p>No articles yet.</p>;
  return (
    <section aria-labelledby="articles-heading">
      <h2 id="articles-heading">Articles</h2>
      <ul className="articles" aria-label="Articles" data-testid="article-list">
        {response.body.map((article) => (
          <li key={article.id} data-testid="article-item">
            <h3>
              <a href={articleHref(article.id)} data-testid="article-link">
                {article.title}
              </a>
            </h3>
            <p className="meta">
              {article.author} · <time dateTime={article.date}>{article.date}</time> ·{" "}
              {article.minutes_to_read} min read
            </p>
            {article.preview && <p className="preview">{article.preview}</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}
