import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, readConfig } from "./config.ts";

describe("readConfig", () => {
  test("defaults run a complete local instance", () => {
    const config = readConfig({});
    expect(config.port).toBe(8080);
    expect(config.publicUrl.origin).toBe("http://localhost:8080");
    expect(config.dataDir).toBe("./data");
    expect(config.modelDir).toBe("./data/models");
    expect(config.logLevel).toBe("info");
    expect(config.publicUrlIsDefault).toBe(true);
    expect(config.diskWarnPercent).toBe(80);
    expect(config.venvDir).toBe(join(import.meta.dir, "..", "..", ".venv"));
  });

  test("wiki processes: the zygote by default with 24 live; gunicorn defaults to 8; both settable", () => {
    expect(readConfig({})).toMatchObject({ wikiLauncher: "zygote", wikiProcessesMax: 24 });
    expect(readConfig({ WIKI_LAUNCHER: "gunicorn" })).toMatchObject({
      wikiLauncher: "gunicorn",
      wikiProcessesMax: 8,
    });
    expect(readConfig({ WIKI_LAUNCHER: " Zygote ", WIKI_PROCESSES_MAX: "3" })).toMatchObject({
      wikiLauncher: "zygote",
      wikiProcessesMax: 3,
    });
  });

  test("the disk warning threshold and the virtualenv can be set", () => {
    const config = readConfig({ DISK_WARN_PERCENT: "1", VENV_DIR: "/opt/otterwiki-venv" });
    expect(config.diskWarnPercent).toBe(1);
    expect(config.venvDir).toBe("/opt/otterwiki-venv");
  });

  test.each([
    ["PORT", "eighty", "PORT"],
    ["PORT", "70000", "PORT"],
    ["PUBLIC_URL", "not a url", "PUBLIC_URL"],
    ["PUBLIC_URL", "ftp://example.com", "PUBLIC_URL"],
    ["PUBLIC_URL", "https://example.com/wiki", "PUBLIC_URL"],
    ["WIKI_PROCESSES_MAX", "0", "WIKI_PROCESSES_MAX"],
    ["WIKI_PROCESSES_MAX", "-3", "WIKI_PROCESSES_MAX"],
    ["LOG_LEVEL", "loud", "LOG_LEVEL"],
    ["WIKI_LAUNCHER", "uwsgi", "WIKI_LAUNCHER"],
    ["DISK_WARN_PERCENT", "0", "DISK_WARN_PERCENT"],
    ["DISK_WARN_PERCENT", "101", "DISK_WARN_PERCENT"],
    ["DISK_WARN_PERCENT", "80%", "DISK_WARN_PERCENT"],
  ])("%s=%s stops start-up with a message naming the variable", (name, value, mentioned) => {
    expect(() => readConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => readConfig({ [name]: value })).toThrow(mentioned);
  });

  test("accepts a production origin", () => {
    const config = readConfig({
      PUBLIC_URL: "https://wikibot.example",
      PORT: "3000",
      LOG_LEVEL: "WARN",
    });
    expect(config.publicUrl.host).toBe("wikibot.example");
    expect(config.port).toBe(3000);
    expect(config.logLevel).toBe("warn");
  });
});

describe("plan limits", () => {
  test("default to free 10 wikis / 1,000 pages / 50 MiB and premium 100 / 20,000 / 1 GiB", () => {
    const { plans } = readConfig({});
    expect(plans.free).toEqual({
      wikisPerOwner: 10,
      pagesPerWiki: 1_000,
      bytesPerWiki: 50 * 1024 * 1024,
    });
    expect(plans.premium).toEqual({
      wikisPerOwner: 100,
      pagesPerWiki: 20_000,
      bytesPerWiki: 1024 * 1024 * 1024,
    });
  });

  test("each number can be set per plan", () => {
    const { plans } = readConfig({
      PLAN_FREE_WIKIS_PER_OWNER: "1",
      PLAN_FREE_PAGES_PER_WIKI: "10",
      PLAN_FREE_BYTES_PER_WIKI: "4096",
      PLAN_PREMIUM_WIKIS_PER_OWNER: "2",
      PLAN_PREMIUM_PAGES_PER_WIKI: "20",
      PLAN_PREMIUM_BYTES_PER_WIKI: "8192",
    });
    expect(plans.free).toEqual({ wikisPerOwner: 1, pagesPerWiki: 10, bytesPerWiki: 4096 });
    expect(plans.premium).toEqual({ wikisPerOwner: 2, pagesPerWiki: 20, bytesPerWiki: 8192 });
  });

  test.each([
    ["PLAN_FREE_PAGES_PER_WIKI", "0"],
    ["PLAN_FREE_PAGES_PER_WIKI", "lots"],
    ["PLAN_FREE_BYTES_PER_WIKI", "50MB"],
    ["PLAN_FREE_BYTES_PER_WIKI", "100"],
    ["PLAN_PREMIUM_WIKIS_PER_OWNER", "-1"],
  ])("%s=%s stops start-up naming the variable", (name, value) => {
    expect(() => readConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => readConfig({ [name]: value })).toThrow(name);
  });

  test("premium below free stops start-up naming both", () => {
    const env = { PLAN_FREE_PAGES_PER_WIKI: "30000" };
    expect(() => readConfig(env)).toThrow(ConfigError);
    expect(() => readConfig(env)).toThrow(
      "PLAN_PREMIUM_PAGES_PER_WIKI=20000 is below PLAN_FREE_PAGES_PER_WIKI=30000",
    );
  });
});

describe("Sign in with Bluesky settings", () => {
  test("default to the real PLC directory, DNS handle resolution and https only", () => {
    const config = readConfig({});
    expect(config.atprotoPlcUrl.href).toBe("https://plc.directory/");
    expect(config.atprotoHandleResolver).toBeNull();
    expect(config.atprotoAllowLoopbackHttp).toBe(false);
  });

  test.each([
    ["ATPROTO_ALLOW_LOOPBACK_HTTP", "yes"],
    ["ATPROTO_PLC_URL", "plc.directory"],
    ["ATPROTO_HANDLE_RESOLVER", "ftp://pds.example"],
  ])("%s=%s stops start-up naming the variable", (name, value) => {
    expect(() => readConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => readConfig({ [name]: value })).toThrow(name);
  });
});

describe("GitHub and Google sign-in settings", () => {
  const GITHUB = { GITHUB_CLIENT_ID: "Iv1.abc", GITHUB_CLIENT_SECRET: "shh" };

  test("are off unless configured", () => {
    const config = readConfig({});
    expect(config.githubLogin).toBeNull();
    expect(config.googleLogin).toBeNull();
  });

  test("a client id and secret enable a provider at its real endpoints", () => {
    const config = readConfig({
      ...GITHUB,
      GOOGLE_CLIENT_ID: "123.apps.googleusercontent.com",
      GOOGLE_CLIENT_SECRET: "g-secret",
    });
    expect(config.githubLogin).toEqual({
      clientId: "Iv1.abc",
      clientSecret: "shh",
      authorizationEndpoint: new URL("https://github.com/login/oauth/authorize"),
      tokenEndpoint: new URL("https://github.com/login/oauth/access_token"),
      userEndpoint: new URL("https://api.github.com/user"),
    });
    expect(config.googleLogin?.authorizationEndpoint.href).toBe(
      "https://accounts.google.com/o/oauth2/v2/auth",
    );
    expect(config.googleLogin?.tokenEndpoint.href).toBe("https://oauth2.googleapis.com/token");
    expect(config.googleLogin?.userEndpoint.href).toBe(
      "https://openidconnect.googleapis.com/v1/userinfo",
    );
  });

  test.each([
    [{ GITHUB_CLIENT_ID: "Iv1.abc" }, "GITHUB_CLIENT_SECRET"],
    [{ GITHUB_CLIENT_SECRET: "shh" }, "GITHUB_CLIENT_ID"],
    [{ GOOGLE_CLIENT_ID: "123" }, "GOOGLE_CLIENT_SECRET"],
    [{ GOOGLE_CLIENT_SECRET: "g" }, "GOOGLE_CLIENT_ID"],
  ])("%o alone stops start-up naming %s", (env, missing) => {
    expect(() => readConfig(env)).toThrow(ConfigError);
    expect(() => readConfig(env)).toThrow(missing);
  });

  test("endpoint overrides point the flow at a stand-in; http only in loopback test mode", () => {
    const standin = {
      ...GITHUB,
      GITHUB_OAUTH_BASE_URL: "http://127.0.0.1:4000",
      GITHUB_API_BASE_URL: "http://127.0.0.1:4001",
    };
    expect(() => readConfig(standin)).toThrow(ConfigError);
    expect(() => readConfig(standin)).toThrow("GITHUB_OAUTH_BASE_URL");
    const config = readConfig({ ...standin, ATPROTO_ALLOW_LOOPBACK_HTTP: "true" });
    expect(config.githubLogin?.authorizationEndpoint.href).toBe(
      "http://127.0.0.1:4000/login/oauth/authorize",
    );
    expect(config.githubLogin?.tokenEndpoint.href).toBe(
      "http://127.0.0.1:4000/login/oauth/access_token",
    );
    expect(config.githubLogin?.userEndpoint.href).toBe("http://127.0.0.1:4001/user");
    const https = readConfig({ ...GITHUB, GITHUB_OAUTH_BASE_URL: "https://github.example" });
    expect(https.githubLogin?.tokenEndpoint.href).toBe(
      "https://github.example/login/oauth/access_token",
    );
  });

  test.each([
    ["GITHUB_OAUTH_BASE_URL", "github.example"],
    ["GITHUB_API_BASE_URL", "https://api.github.example/v3"],
    ["GOOGLE_OAUTH_BASE_URL", "ftp://google.example"],
  ])("%s=%s stops start-up naming the variable", (name, value) => {
    expect(() => readConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => readConfig({ [name]: value })).toThrow(name);
  });
});
