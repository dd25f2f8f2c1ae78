/*
 * The staff dashboard's live feed (README "WebSockets"): connects to /ws/staff/ with the admin session and
 * shows new AML alerts, withdrawals awaiting approval and large transactions as they commit.
 *
 * Hook: an element with id="live-feed" (templates/backoffice/live_feed.html renders one and loads this file).
 *   - events are listed inside it, newest first (at most data-max items, default 20);
 *   - any element with data-live-count="aml_alert|withdrawal|large_transaction" has its number raised by one
 *     per event of that type (e.g. a queue badge in the sidebar);
 *   - a `live:event` CustomEvent (detail = the message) is dispatched on it, for anything else.
 * No library and no CDN: plain DOM, text only (never innerHTML), so an event cannot inject markup.
 */
(function () {
  "use strict";

  var LABELS = {
    aml_alert: "AML alert",
    withdrawal: "Withdrawal awaiting approval",
    large_transaction: "Large transaction",
  };
  // Closed for a reason that reconnecting cannot fix: not logged in, or the second factor not passed (4401), or no
  // feed for this role (4403).
  var FINAL_CODES = { 4401: true, 4403: true, 4404: true };

  function describe(event) {
    if (event.type === "aml_alert") {
      return "#" + event.id + " " + event.level + " (" + event.rule + "), player " + event.player_id;
    }
    if (event.type === "withdrawal") {
      return "#" + event.id + " " + event.amount + " " + event.currency + ", player " + event.player_id;
    }
    if (event.type === "large_transaction") {
      return event.kind + " " + event.amount + " " + event.currency + " (EUR " + event.amount_eur + "), player " + event.player_id;
    }
    return "";
  }

  function bump(type) {
    var counters = document.querySelectorAll('[data-live-count="' + type + '"]');
    for (var i = 0; i < counters.length; i++) {
      var n = parseInt(counters[i].textContent, 10);
      counters[i].textContent = String((isNaN(n) ? 0 : n) + 1);
    }
  }

  function show(feed, event) {
    var list = feed.querySelector("ul.live-feed-events");
    if (!list) {
      list = document.createElement("ul");
      list.className = "live-feed-events";
      feed.appendChild(list);
    }
    var item = document.createElement("li");
    item.className = "live-event live-" + event.type;
    var time = document.createElement("time");
    time.textContent = new Date().toLocaleTimeString();
    item.appendChild(time);
    item.appendChild(document.createTextNode(" "));
    var label = event.url ? document.createElement("a") : document.createElement("strong");
    if (event.url) label.href = event.url;
    label.textContent = LABELS[event.type] || event.type;
    item.appendChild(label);
    item.appendChild(document.createTextNode(" " + describe(event)));
    list.insertBefore(item, list.firstChild);
    var max = parseInt(feed.getAttribute("data-max"), 10) || 20;
    while (list.children.length > max) list.removeChild(list.lastChild);
  }

  function status(feed, text) {
    var el = feed.querySelector(".live-feed-status");
    if (el) el.textContent = text;
  }

  function connect(feed, delay) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + (feed.getAttribute("data-path") || "/ws/staff/"));
    socket.onopen = function () {
      delay = 1000;
    };
    socket.onmessage = function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (event.type === "hello") {
        feed.setAttribute("data-connected", "true");
        status(feed, "Live: " + event.feeds.map(function (f) { return LABELS[f] || f; }).join(", "));
        return;
      }
      if (event.type === "error") {
        status(feed, event.message);
        return;
      }
      show(feed, event);
      bump(event.type);
      feed.dispatchEvent(new CustomEvent("live:event", { detail: event }));
    };
    socket.onclose = function (closed) {
      feed.setAttribute("data-connected", "false");
      if (FINAL_CODES[closed.code]) return;
      status(feed, "Live updates paused; reconnecting…");
      setTimeout(function () { connect(feed, Math.min(delay * 2, 30000)); }, delay);
    };
  }

  function start() {
    var feed = document.getElementById("live-feed");
    if (feed && window.WebSocket) connect(feed, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
