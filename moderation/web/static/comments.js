/*
 * Moderation: show a post's approved comments on any page, without writing code.
 *
 *   <div data-moderation-post="POST_ID"></div>
 *   <script src="https://moderation.example/embed/comments.js"
 *           data-token="pub_…" async></script>
 *
 * The script reads the public feed (GET /v1/posts/POST_ID/comments?token=…) of the server it
 * was loaded from, and renders every [data-moderation-post] element on the page. Text that a
 * commenter wrote only ever reaches the page as text nodes (names, dates) or as elements this
 * script builds itself from the server's sanitised HTML, keeping <p>, <br> and http(s) links:
 * no commenter's markup is ever parsed into the live document.
 *
 * Options, as attributes of the <script> element (or of each container, which wins):
 *   data-token            the site's public read token (required)
 *   data-api              the server's address, if not the one the script came from
 *   data-order            "oldest" (default) or "newest"
 *   data-page-size        top-level comments per page (default 50)
 *   data-styles="none"    leave all styling to the page
 *   data-text-empty, data-text-more, data-text-error, data-text-anonymous,
 *   data-text-count-one, data-text-count-many ("{n}" stands for the number)
 *
 * Markup: .moderation-comments > .moderation-count, .moderation-list > article.moderation-comment
 * (> header.moderation-meta [.moderation-avatar, .moderation-author, time.moderation-date],
 * .moderation-body, .moderation-replies > article…), button.moderation-more,
 * p.moderation-empty, p.moderation-error.
 */
(function () {
  "use strict";

  var SCRIPT = document.currentScript ||
    document.querySelector('script[src*="/embed/comments.js"]');
  var TEXT = {
    empty: "No comments yet.",
    more: "More comments",
    error: "The comments could not be loaded.",
    anonymous: "Anonymous",
    countOne: "1 comment",
    countMany: "{n} comments"
  };
  var STYLES =
    ":where(.moderation-comments) { font: inherit; }" +
    ":where(.moderation-comment) { margin: 1em 0; }" +
    ":where(.moderation-meta) { display: flex; align-items: center; gap: .5em; }" +
    ":where(.moderation-avatar) { display: inline-flex; align-items: center;" +
    " justify-content: center; width: 2em; height: 2em; border-radius: 50%; color: #fff;" +
    " font-weight: bold; flex: none; }" +
    ":where(.moderation-date) { opacity: .7; font-size: .9em; }" +
    ":where(.moderation-body) { overflow-wrap: anywhere; }" +
    ":where(.moderation-body p) { margin: .5em 0; }" +
    ":where(.moderation-replies) { margin-left: 1.5em; padding-left: 1em;" +
    " border-left: 2px solid rgba(127, 127, 127, .3); }";

  function option(container, name) {
    var own = container.getAttribute("data-" + name);
    if (own !== null) {
      return own;
    }
    return SCRIPT ? SCRIPT.getAttribute("data-" + name) : null;
  }

  function text(container, key, attribute) {
    var given = option(container, "text-" + attribute);
    return given !== null ? given : TEXT[key];
  }

  function apiBase(container) {
    var given = option(container, "api");
    if (given) {
      return new URL(given.replace(/\/*$/, "/"), document.baseURI);
    }
    // The script lives at BASE/embed/comments.js: the feed is at BASE/v1/…
    return new URL("../", SCRIPT.src);
  }

  function isWebUrl(value) {
    try {
      var url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch (e) {
      return false;
    }
  }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (content !== undefined) {
      node.textContent = content;
    }
    return node;
  }

  function link(href, content) {
    var a = element("a", null, content);
    a.href = href;
    a.rel = "nofollow ugc noopener";
    return a;
  }

  // Rebuild the server's sanitised HTML with DOM calls, keeping only text, <p>, <br> and
  // http(s) links. The HTML is parsed into an inert <template>: nothing in it runs or loads.
  function copySafe(from, to) {
    var nodes = from.childNodes;
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      if (node.nodeType === 3) {
        to.appendChild(document.createTextNode(node.nodeValue));
      } else if (node.nodeType === 1) {
        var tag = node.nodeName.toLowerCase();
        if (tag === "br") {
          to.appendChild(element("br"));
        } else if (tag === "p") {
          copySafe(node, to.appendChild(element("p")));
        } else if (tag === "a" && isWebUrl(node.getAttribute("href") || "")) {
          copySafe(node, to.appendChild(link(node.getAttribute("href"), undefined)));
        } else {
          copySafe(node, to);
        }
      }
    }
  }

  function body(html) {
    var template = document.createElement("template");
    template.innerHTML = html; // the server's sanitised HTML, parsed inert, then copied
    var out = element("div", "moderation-body");
    copySafe(template.content, out);
    return out;
  }

  function when(iso) {
    var date = new Date(iso);
    var node = element("time", "moderation-date", isNaN(date) ? iso : date.toLocaleString());
    node.setAttribute("datetime", iso);
    return node;
  }

  function comment(container, data) {
    var article = element("article", "moderation-comment");
    article.id = "comment-" + data.id;
    var meta = article.appendChild(element("header", "moderation-meta"));
    var name = data.author_name || text(container, "anonymous", "anonymous");
    var avatar = meta.appendChild(element("span", "moderation-avatar", name.charAt(0)));
    avatar.setAttribute("aria-hidden", "true");
    if (/^[0-9a-f]{6}/.test(data.avatar || "")) {
      avatar.style.backgroundColor = "hsl(" + (parseInt(data.avatar.slice(0, 6), 16) % 360) +
        ", 45%, 45%)";
    }
    if (data.author_url && isWebUrl(data.author_url)) {
      var a = meta.appendChild(link(data.author_url, name));
      a.className = "moderation-author";
    } else {
      meta.appendChild(element("span", "moderation-author", name));
    }
    meta.appendChild(when(data.created_at));
    article.appendChild(body(data.html || ""));
    if (data.replies && data.replies.length) {
      var replies = article.appendChild(element("div", "moderation-replies"));
      for (var i = 0; i < data.replies.length; i++) {
        replies.appendChild(comment(container, data.replies[i]));
      }
    }
    return article;
  }

  function feedUrl(container, after) {
    var post = container.getAttribute("data-moderation-post");
    var url = new URL("v1/posts/" + encodeURIComponent(post) + "/comments", apiBase(container));
    url.searchParams.set("token", option(container, "token") || "");
    url.searchParams.set("order", option(container, "order") === "newest" ? "newest" : "oldest");
    var size = parseInt(option(container, "page-size"), 10);
    if (size > 0) {
      url.searchParams.set("limit", String(Math.min(size, 200)));
    }
    if (after) {
      url.searchParams.set("after", after);
    }
    return url;
  }

  function load(container, root, after) {
    return fetch(feedUrl(container, after), { credentials: "omit", mode: "cors" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (page) {
        var count = root.querySelector(".moderation-count");
        count.textContent = page.total === 1
          ? text(container, "countOne", "count-one")
          : text(container, "countMany", "count-many").replace("{n}", String(page.total));
        var list = root.querySelector(".moderation-list");
        for (var i = 0; i < page.comments.length; i++) {
          list.appendChild(comment(container, page.comments[i]));
        }
        var old = root.querySelector(".moderation-more");
        if (old) {
          old.remove();
        }
        if (!page.total) {
          root.appendChild(element("p", "moderation-empty", text(container, "empty", "empty")));
        } else if (page.next) {
          var more = root.appendChild(
            element("button", "moderation-more", text(container, "more", "more"))
          );
          more.type = "button";
          more.addEventListener("click", function () {
            more.disabled = true;
            load(container, root, page.next);
          });
        }
        root.setAttribute("aria-busy", "false");
        container.dispatchEvent(new CustomEvent("moderation:loaded", { bubbles: true }));
      })
      .catch(function (error) {
        root.setAttribute("aria-busy", "false");
        root.appendChild(element("p", "moderation-error", text(container, "error", "error")));
        if (window.console) {
          console.warn("moderation: comments not loaded:", error);
        }
        container.dispatchEvent(new CustomEvent("moderation:error", { bubbles: true }));
      });
  }

  function render(container) {
    if (container.getAttribute("data-moderation-state")) {
      return;
    }
    container.setAttribute("data-moderation-state", "started");
    var root = element("section", "moderation-comments");
    root.setAttribute("aria-busy", "true");
    root.appendChild(element("h2", "moderation-count"));
    root.appendChild(element("div", "moderation-list"));
    container.replaceChildren(root);
    load(container, root, null);
  }

  function addStyles() {
    if (!SCRIPT || SCRIPT.getAttribute("data-styles") === "none") {
      return;
    }
    // A constructed stylesheet: allowed by a Content-Security-Policy without 'unsafe-inline',
    // and every rule is wrapped in :where() so that any rule of the page wins over it.
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      document.adoptedStyleSheets = [sheet].concat(document.adoptedStyleSheets);
    } catch (e) {
      /* an older browser: unstyled, still readable */
    }
  }

  function start() {
    addStyles();
    var containers = document.querySelectorAll("[data-moderation-post]");
    for (var i = 0; i < containers.length; i++) {
      render(containers[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
