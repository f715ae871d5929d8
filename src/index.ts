import { app } from "./app.js";

export { GrantObject } from "./grant-object/grant-object.js";

export default app;
