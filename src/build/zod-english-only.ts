// Stands in for zod's `locales/index.js` in the Worker bundle (wrangler.toml
// [alias]). zod's `z` namespace re-exports every locale (about 360 KiB), and no
// bundler can drop them once `z` is passed around as a value, as
// @hono/zod-openapi does. The gateway speaks English, which zod registers by
// itself from `locales/en.js`; `z.locales.en` stays available.
export { default as en } from "zod/v4/locales/en.js";
