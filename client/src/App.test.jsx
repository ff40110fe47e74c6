import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import App from "./App.jsx";

const ARTICLES = [
  {
    id: 1,
    author: "Ada",
    title: "Sessions in depth",
    preview: "What a cookie carries.",
    minutes_to_read: 4,
    date: "2024-03-01",
    user_id: 1,
  },
  {
    id: 2,
    author: "Grace",
    title: "Paywalls explained",
    preview: "Counting page views.",
    minutes_to_read: 7,
    date: "2024-03-02",
    user_id: 2,
  },
];

const fullArticle = (id) => {
  const article = ARTICLES.find((a) => a.id === id);
  return { ...article, content: `The whole text of ${article.title}.`, user: { id: article.user_id } };
};

const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/**
 * Stand in for the lab's API: `routes` maps a path (under the /paywall/ prefix the
 * tests are served from) to a function answering a Response or throwing. Any other
 * path answers 500, so a request to the wrong URL cannot pass for a 404.
 */
function mockApi(routes) {
  const fetchMock = vi.fn(async (url) => {
    const { pathname } = new URL(url);
    const route = routes[pathname];
    if (!route) return json(500, { message: `unexpected request ${pathname}` });
    return route();
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

/** The paywall lab's rules: three free article views per session, then 401 until cleared. */
function paywallServer({ limit = 3 } = {}) {
  let views = 0;
  const article = (id) => () => {
    views += 1;
    if (views > limit) return json(401, { message: "Maximum pageview limit reached" });
    return json(200, { ...fullArticle(id), views_left: limit - views });
  };
  return mockApi({
    "/paywall/articles": () => json(200, ARTICLES),
    "/paywall/articles/1": article(1),
    "/paywall/articles/2": article(2),
    "/paywall/clear": () => {
      views = 0;
      return json(200, { message: "200: Successfully cleared session data." });
    },
  });
}

const requestedPaths = (fetchMock) => fetchMock.mock.calls.map(([url]) => new URL(url).pathname);

async function openArticle(user, title) {
  await user.click(await screen.findByRole("link", { name: title }));
}

describe("article list", () => {
  it("renders the articles the API returns, fetched relative to the page with the session cookie", async () => {
    const fetchMock = paywallServer();
    render(<App />);

    const list = await screen.findByRole("list", { name: "Articles" });
    const items = within(list).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(within(items[0]).getByRole("link", { name: "Sessions in depth" })).toHaveAttribute(
      "href",
      "#/articles/1",
    );
    expect(items[0]).toHaveTextContent("Ada");
    expect(items[0]).toHaveTextContent("4 min read");
    expect(items[1]).toHaveTextContent("Counting page views.");

    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe("http://localhost/paywall/articles");
    expect(init.credentials).toBe("same-origin");
  });

  it("says so when the list cannot be loaded", async () => {
    vi.stubGlobal("fetch", vi.fn().mockRejectedValue(new TypeError("Failed to fetch")));
    render(<App />);

    expect(await screen.findByRole("alert")).toHaveTextContent("Could not reach the server");
  });
});

describe("article page", () => {
  it("opens when its title is clicked and shows title, author, date, minutes and content", async () => {
    const user = userEvent.setup();
    const fetchMock = paywallServer();
    render(<App />);

    await openArticle(user, "Paywalls explained");

    const article = await screen.findByRole("article");
    expect(within(article).getByRole("heading", { name: "Paywalls explained" })).toBeVisible();
    expect(screen.getByTestId("article-author")).toHaveTextContent("Grace");
    expect(screen.getByTestId("article-date")).toHaveTextContent("2024-03-02");
    expect(screen.getByTestId("article-minutes")).toHaveTextContent("7 min read");
    expect(screen.getByTestId("article-content")).toHaveTextContent(
      "The whole text of Paywalls explained.",
    );
    expect(window.location.hash).toBe("#/articles/2");
    expect(requestedPaths(fetchMock)).toEqual(["/paywall/articles", "/paywall/articles/2"]);
  });

  it("says how many free articles are left, as the API counts them", async () => {
    const user = userEvent.setup();
    paywallServer();
    render(<App />);

    await openArticle(user, "Sessions in depth");
    expect(await screen.findByTestId("views-left")).toHaveTextContent(
      "2 free articles left in this session.",
    );
    await user.click(screen.getByRole("link", { name: "← All articles" }));
    await openArticle(user, "Paywalls explained");
    expect(await screen.findByTestId("views-left")).toHaveTextContent("1 free article left");
    await user.click(screen.getByRole("link", { name: "← All articles" }));
    await openArticle(user, "Sessions in depth");
    expect(await screen.findByTestId("views-left")).toHaveTextContent(
      "That was your last free article",
    );
    await user.click(screen.getByRole("link", { name: "← All articles" }));
    await openArticle(user, "Paywalls explained");
    expect(await screen.findByTestId("paywall")).toBeVisible();
    expect(screen.queryByTestId("views-left")).not.toBeInTheDocument();
  });

  it("loads directly from its address", async () => {
    paywallServer();
    window.location.hash = "#/articles/1";
    render(<App />);

    expect(await screen.findByRole("heading", { name: "Sessions in depth" })).toBeVisible();
  });

  it("shows the paywall message when the API answers 401", async () => {
    const user = userEvent.setup();
    paywallServer({ limit: 0 });
    render(<App />);

    await openArticle(user, "Sessions in depth");

    const paywall = await screen.findByTestId("paywall");
    expect(
      within(paywall).getByRole("heading", { name: "Maximum pageview limit reached" }),
    ).toBeVisible();
    expect(screen.queryByRole("article")).not.toBeInTheDocument();
  });

  it("says the article was not found when the API answers 404", async () => {
    const fetchMock = mockApi({
      "/paywall/articles/9": () => json(404, { error: "Article not found" }),
    });
    window.location.hash = "#/articles/9";
    render(<App />);

    expect(await screen.findByRole("alert")).toHaveTextContent("Article not found.");
    expect(requestedPaths(fetchMock)).toEqual(["/paywall/articles/9"]);
  });

  it("says the server could not be reached on a network error", async () => {
    const fetchMock = mockApi({
      "/paywall/articles/1": () => {
        throw new TypeError("Failed to fetch");
      },
    });
    window.location.hash = "#/articles/1";
    render(<App />);

    expect(await screen.findByRole("alert")).toHaveTextContent("Could not reach the server");
    expect(requestedPaths(fetchMock)).toEqual(["/paywall/articles/1"]);
  });

  it("reports any other error status", async () => {
    mockApi({ "/paywall/articles/1": () => new Response("Service Unavailable", { status: 503 }) });
    window.location.hash = "#/articles/1";
    render(<App />);

    expect(await screen.findByRole("alert")).toHaveTextContent("(503)");
  });
});

describe("Clear", () => {
  it("calls /clear, shows the list again, and lets the reader read again", async () => {
    const user = userEvent.setup();
    const fetchMock = paywallServer({ limit: 1 });
    render(<App />);

    await openArticle(user, "Sessions in depth");
    expect(await screen.findByRole("article")).toBeVisible();
    await user.click(screen.getByRole("link", { name: "← All articles" }));
    await openArticle(user, "Paywalls explained");
    expect(await screen.findByTestId("paywall")).toBeVisible();

    await user.click(screen.getByRole("button", { name: "Clear" }));

    expect(await screen.findByRole("list", { name: "Articles" })).toBeVisible();
    expect(screen.getByTestId("cleared")).toHaveTextContent("Page views cleared");
    expect(screen.queryByTestId("paywall")).not.toBeInTheDocument();
    expect(window.location.hash).toBe("#/");
    expect(requestedPaths(fetchMock)).toContain("/paywall/clear");

    await openArticle(user, "Paywalls explained");
    expect(await screen.findByRole("heading", { name: "Paywalls explained" })).toBeVisible();
    expect(screen.queryByTestId("cleared")).not.toBeInTheDocument();
  });

  it("reloads the list when it is already showing", async () => {
    const user = userEvent.setup();
    const fetchMock = paywallServer();
    render(<App />);
    await screen.findByRole("list", { name: "Articles" });

    await user.click(screen.getByRole("button", { name: "Clear" }));

    expect(await screen.findByTestId("cleared")).toBeVisible();
    await screen.findByRole("list", { name: "Articles" });
    expect(requestedPaths(fetchMock)).toEqual([
      "/paywall/articles",
      "/paywall/clear",
      "/paywall/articles",
    ]);
  });

  it("says so when clearing fails", async () => {
    const user = userEvent.setup();
    mockApi({
      "/paywall/articles": () => json(200, ARTICLES),
      "/paywall/clear": () => {
        throw new TypeError("Failed to fetch");
      },
    });
    render(<App />);
    await screen.findByRole("list", { name: "Articles" });

    await user.click(screen.getByRole("button", { name: "Clear" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("Could not reach the server");
    expect(screen.queryByTestId("cleared")).not.toBeInTheDocument();
  });
});
