import { getArticle, PAYWALL_MESSAGE } from "./api.js";
import { ErrorMessage, failureText, Loading } from "./Messages.jsx";
import { useApi } from "./useApi.js";
import { LIST_HREF } from "./useHashRoute.js";

/** Shown instead of an article once the session has used up its free page views. */
export function Paywall({ message }) {
  return (
    <section className="paywall" aria-labelledby="paywall-heading" data-testid="paywall">
      <h2 id="paywall-heading">{message || PAYWALL_MESSAGE}</h2>
      <p>You have read all your free articles. Clear the page views to read again.</p>
    </section>
  );
}

function Article({ article }) {
  return (
    <article aria-labelledby="article-title" data-testid="article">
      <h2 id="article-title" data-testid="article-title">
        {article.title}
      </h2>
      <p className="meta">
        By <span data-testid="article-author">{article.author}</span> ·{" "}
        <time dateTime={article.date} data-testid="article-date">
          {article.date}
        </time>{" "}
        · <span data-testid="article-minutes">{article.minutes_to_read} min read</span>
      </p>
      <div className="content" data-testid="article-content">
        {article.content}
      </div>
    </article>
  );
}

/** How many free articles this session may still read, as the API counted them. */
export function ViewsLeft({ left }) {
  if (typeof left !== "number") return null;
  const text =
    left > 0
      ? `${left} free ${left === 1 ? "article" : "articles"} left in this session.`
      : "That was your last free article in this session.";
  return (
    <p role="status" className="views-left" data-testid="views-left">
      {text}
    </p>
  );
}

function Outcome({ loading, response, error }) {
  if (loading) return <Loading />;
  if (error) return <ErrorMessage>{failureText(error)}</ErrorMessage>;
  if (response.status === 200 && response.body) {
    return (
      <>
        <ViewsLeft left={response.body.views_left} />
        <Article article={response.body} />
      </>
    );
  }
  if (response.status === 401) return <Paywall message={response.body?.message} />;
  if (response.status === 404) return <ErrorMessage>Article not found.</ErrorMessage>;
  return <ErrorMessage>{failureText(null, response.status)}</ErrorMessage>;
}

/** One article, or the paywall when the API refuses to count another view. */
export default function ArticlePage({ id }) {
  const result = useApi((signal) => getArticle(id, { signal }));
  return (
    <>
      <Outcome {...result} />
      <p>
        <a href={LIST_HREF}>← All articles</a>
      </p>
    </>
  );
}
