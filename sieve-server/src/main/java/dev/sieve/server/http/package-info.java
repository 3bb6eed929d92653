/**
 * The HTTP transport on Jetty 12 (core handlers, no servlets): routing, bearer authentication,
 * the request size limit, JSON and Server-Sent Events responses, and cancellation when a
 * streaming client goes away. Each request runs on its own virtual thread; the engine has its own.
 */
package dev.sieve.server.http;
