export function Loading() {
  return <p role="status">Loading…</p>;
}

export function ErrorMessage({ children }) {
  return (
    <p role="alert" className="error" data-testid="error">
      {children}
    </p>
  );
}

/** Say why a request failed, in words a reader can act on. */
export function failureText(error, status) {
  if (error) return "Could not reach the server. Check your connection and try again.";
  return `The server answered with an error (${status}). Try again later.`;
}
