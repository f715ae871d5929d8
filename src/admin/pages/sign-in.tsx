import { Layout } from "./layout.tsx";

type SignInProps = {
  next: string;
  error?: string | undefined;
  /** Cloudflare Access is configured: say that it signs operators in too. */
  access?: boolean;
};

/** The sign-in form: the operator pastes the admin token; `next` is where to go afterwards. */
export function SignInPage({ next, error, access = false }: SignInProps) {
  return (
    <Layout title="Sign in">
      <h1>Sign in</h1>
      {error ? (
        <p class="notice error" role="alert">
          {error}
        </p>
      ) : null}
      <form class="sign-in" method="post" action="/admin/sign-in">
        <input type="hidden" name="next" value={next} />
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="off" required autofocus aria-describedby="token-hint" />
        <p class="hint" id="token-hint">
          The gateway's <code>ADMIN_TOKEN</code> (<code>npm start</code> prints it). A grant token (<code>mcpgw_…</code>) is an agent's key and does
          not open these pages.
        </p>
        <div class="buttons">
          <button type="submit">Sign in</button>
        </div>
      </form>
      {access ? (
        <p class="hint">
          This gateway also accepts Cloudflare Access: reach <code>/admin</code> through its Access application and you are signed in as your email,
          without the token.
        </p>
      ) : null}
    </Layout>
  );
}
