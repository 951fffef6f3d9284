// The contract between the findings API's HTTP layer and its security: who is calling
// (authentication by kube-apiserver's front proxy) and may they (authorisation by
// SubjectAccessReview). Implementations: front-proxy.ts and subject-access-review.ts.
import type { IncomingMessage } from 'node:http';

/** The user kube-apiserver authenticated, as forwarded in the X-Remote-* headers. */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** What a request wants to do, in SubjectAccessReview's resourceAttributes / nonResourceAttributes. */
export type RequestAttributes =
  | {
      kind: 'resource';
      user: UserInfo;
      /** get, list, watch, create, update, patch, delete, deletecollection. */
      verb: string;
      group: string;
      version: string;
      resource: string;
      subresource?: string;
      namespace?: string;
      name?: string;
    }
  | { kind: 'nonResource'; user: UserInfo; verb: string; path: string };

export type AuthenticationResult =
  | { ok: true; user: UserInfo }
  /** 401: no client certificate, a certificate the request-header CA did not sign, a name not allowed, or no user header. */
  | { ok: false; message: string };

export interface Authenticator {
  /** Checks the TLS client certificate of the request's socket and reads the X-Remote-* headers. */
  authenticate(req: IncomingMessage): AuthenticationResult;
}

export interface AuthorizationDecision {
  allowed: boolean;
  /** The authoriser's reason, for the 403 message. */
  reason?: string;
}

export interface Authorizer {
  authorize(attributes: RequestAttributes): Promise<AuthorizationDecision>;
}
