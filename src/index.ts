import { app } from "./app.ts";

export { GrantObject } from "./grant-object/grant-object.ts";

export default app;
