/** A refusal or invalid input (the gateway said no, a file is not a policy): the message, exit status 1. */
export class CliError extends Error {}

/** A command used wrongly (a missing argument, an unknown command): the message and the help, exit status 2. */
export class UsageError extends CliError {}
