package dev.sieve.server.openai;

/** A request the API refuses, with the HTTP status and OpenAI's error fields. */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(int status, String message, String type, String param, String code) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400 invalid_request_error about {@code param}. */
    public static ApiException invalid(String param, String message) {
        return new ApiException(400, message, "invalid_request_error", param, null);
    }

    public int status() {
        return status;
    }

    public ErrorResponse body() {
        return new ErrorResponse(new ErrorResponse.Error(getMessage(), type, param, code));
    }
}
