package dev.sieve.cli;

/** An error in what the user asked for: printed as one line, exit code 1. */
final class UserException extends RuntimeException {
    UserException(String message) {
        super(message);
    }
}
