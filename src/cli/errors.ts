/** A usage or input error: the command exits with code 2 and prints its message. */
export class InputError extends Error {}
