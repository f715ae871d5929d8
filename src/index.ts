import { app } from "./app.ts";

export { ApprovalIndex } from "./approval-index/approval-index.ts";
export { GrantObject } from "./grant-object/grant-object.ts";
export { ToolPins } from "./pins/tool-pins.ts";

export default app;
