import { createRoot } from "react-dom/client";
import App from "./App.jsx";
import "./styles.css";

// No StrictMode: in development it runs every effect twice, and each article request
// counts a page view on the server, so `npm run dev` would hit the paywall at half the limit.
createRoot(document.getElementById("root")).render(<App />);
