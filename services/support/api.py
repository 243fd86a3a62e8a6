"""The support service over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import datetime as dt

import grpc
from crm.support.v1 import (
    agents_pb2,
    agents_pb2_grpc,
    articles_pb2,
    articles_pb2_grpc,
    metrics_pb2,
    metrics_pb2_grpc,
    sla_pb2,
    sla_pb2_grpc,
    surveys_pb2,
    surveys_pb2_grpc,
    tickets_pb2,
    tickets_pb2_grpc,
)
from google.protobuf import empty_pb2

from crmkit.tokens import current_principal
from services.support.domain.articles import Article
from services.support.messages import (
    AuthorType,
    Visibility,
    agent_fields_from_proto,
    agent_to_proto,
    article_fields_from_proto,
    article_to_proto,
    calendar_from_proto,
    category_to_proto,
    comment_to_proto,
    enum_name,
    group_to_proto,
    metrics_to_proto,
    policy_targets_from_proto,
    policy_to_proto,
    survey_response_to_proto,
    survey_to_proto,
    ticket_fields_from_proto,
    ticket_to_proto,
)
from services.support.usecases import (
    Agents,
    AgentView,
    Articles,
    SlaPolicies,
    SupportMetrics,
    Surveys,
    Tickets,
    TicketView,
)


def _view(view: TicketView) -> tickets_pb2.Ticket:
    return ticket_to_proto(view.ticket, view.history, (view.sla.first_response_due, view.sla.resolution_due))


class TicketsServicer(tickets_pb2_grpc.TicketsServiceServicer):
    def __init__(self, tickets: Tickets) -> None:
        self.tickets = tickets

    def CreateTicket(
        self, request: tickets_pb2.CreateTicketRequest, context: grpc.ServicerContext
    ) -> tickets_pb2.Ticket:
        return _view(self.tickets.create(current_principal(), ticket_fields_from_proto(request.ticket)))

    def GetTicket(self, request: tickets_pb2.GetTicketRequest, context: grpc.ServicerContext) -> tickets_pb2.Ticket:
        return _view(self.tickets.get(current_principal(), request.id))

    def ListTickets(
        self, request: tickets_pb2.ListTicketsRequest, context: grpc.ServicerContext
    ) -> tickets_pb2.ListTicketsResponse:
        found, token = self.tickets.list(current_principal(), request.page_size, request.page_token, request.filter)
        return tickets_pb2.ListTicketsResponse(tickets=[ticket_to_proto(t) for t in found], next_page_token=token)

    def UpdateTicket(
        self, request: tickets_pb2.UpdateTicketRequest, context: grpc.ServicerContext
    ) -> tickets_pb2.Ticket:
        view = self.tickets.update(
            current_principal(),
            request.id,
            ticket_fields_from_proto(request.ticket),
            list(request.update_mask.paths),
            request.ticket.etag,
        )
        return _view(view)

    def CloseTicket(self, request: tickets_pb2.CloseTicketRequest, context: grpc.ServicerContext) -> tickets_pb2.Ticket:
        return _view(self.tickets.close(current_principal(), request.id, request.etag))

    def AddComment(self, request: tickets_pb2.AddCommentRequest, context: grpc.ServicerContext) -> tickets_pb2.Comment:
        comment = request.comment
        created = self.tickets.add_comment(
            current_principal(),
            request.ticket_id,
            comment.body,
            enum_name(Visibility, comment.visibility),
            enum_name(AuthorType, comment.author_type),
            comment.author_id,
            comment.external_message_id,
            comment.in_reply_to,
        )
        return comment_to_proto(created)

    def ListComments(
        self, request: tickets_pb2.ListCommentsRequest, context: grpc.ServicerContext
    ) -> tickets_pb2.ListCommentsResponse:
        found, token = self.tickets.list_comments(
            current_principal(), request.ticket_id, request.page_size, request.page_token
        )
        return tickets_pb2.ListCommentsResponse(comments=[comment_to_proto(c) for c in found], next_page_token=token)


def _agent(view: AgentView) -> agents_pb2.Agent:
    return agent_to_proto(view.agent, view.load)


class AgentsServicer(agents_pb2_grpc.AgentsServiceServicer):
    def __init__(self, agents: Agents) -> None:
        self.agents = agents

    def CreateAgent(self, request: agents_pb2.CreateAgentRequest, context: grpc.ServicerContext) -> agents_pb2.Agent:
        return _agent(self.agents.create(current_principal(), agent_fields_from_proto(request.agent)))

    def GetAgent(self, request: agents_pb2.GetAgentRequest, context: grpc.ServicerContext) -> agents_pb2.Agent:
        return _agent(self.agents.get(current_principal(), request.id))

    def ListAgents(
        self, request: agents_pb2.ListAgentsRequest, context: grpc.ServicerContext
    ) -> agents_pb2.ListAgentsResponse:
        found, token = self.agents.list(current_principal(), request.page_size, request.page_token)
        return agents_pb2.ListAgentsResponse(agents=[_agent(v) for v in found], next_page_token=token)

    def UpdateAgent(self, request: agents_pb2.UpdateAgentRequest, context: grpc.ServicerContext) -> agents_pb2.Agent:
        view = self.agents.update(
            current_principal(),
            request.id,
            agent_fields_from_proto(request.agent),
            list(request.update_mask.paths),
            request.agent.etag,
        )
        return _agent(view)

    def CreateGroup(self, request: agents_pb2.CreateGroupRequest, context: grpc.ServicerContext) -> agents_pb2.Group:
        group = self.agents.create_group(current_principal(), request.group.name, request.group.description)
        return group_to_proto(group)

    def GetGroup(self, request: agents_pb2.GetGroupRequest, context: grpc.ServicerContext) -> agents_pb2.Group:
        return group_to_proto(self.agents.get_group(current_principal(), request.id))

    def ListGroups(
        self, request: agents_pb2.ListGroupsRequest, context: grpc.ServicerContext
    ) -> agents_pb2.ListGroupsResponse:
        found, token = self.agents.list_groups(current_principal(), request.page_size, request.page_token)
        return agents_pb2.ListGroupsResponse(groups=[group_to_proto(g) for g in found], next_page_token=token)


class SlaPoliciesServicer(sla_pb2_grpc.SlaPoliciesServiceServicer):
    def __init__(self, policies: SlaPolicies) -> None:
        self.policies = policies

    def CreateSlaPolicy(
        self, request: sla_pb2.CreateSlaPolicyRequest, context: grpc.ServicerContext
    ) -> sla_pb2.SlaPolicy:
        given = request.sla_policy
        policy = self.policies.create(
            current_principal(),
            given.name,
            given.customer_tier,
            calendar_from_proto(given.calendar),
            policy_targets_from_proto(given),
            given.warning_percent,
        )
        return policy_to_proto(policy)

    def GetSlaPolicy(self, request: sla_pb2.GetSlaPolicyRequest, context: grpc.ServicerContext) -> sla_pb2.SlaPolicy:
        return policy_to_proto(self.policies.get(current_principal(), request.id))

    def ListSlaPolicies(
        self, request: sla_pb2.ListSlaPoliciesRequest, context: grpc.ServicerContext
    ) -> sla_pb2.ListSlaPoliciesResponse:
        found, token = self.policies.list(current_principal(), request.page_size, request.page_token)
        return sla_pb2.ListSlaPoliciesResponse(sla_policies=[policy_to_proto(p) for p in found], next_page_token=token)

    def DeleteSlaPolicy(
        self, request: sla_pb2.DeleteSlaPolicyRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.policies.delete(current_principal(), request.id)
        return empty_pb2.Empty()


def _matches(found: list[tuple[Article, float]]) -> articles_pb2.SearchArticlesResponse:
    return articles_pb2.SearchArticlesResponse(
        results=[articles_pb2.ArticleMatch(article=article_to_proto(a), relevance=r) for a, r in found]
    )


class ArticlesServicer(articles_pb2_grpc.ArticlesServiceServicer):
    def __init__(self, articles: Articles) -> None:
        self.articles = articles

    def CreateArticle(
        self, request: articles_pb2.CreateArticleRequest, context: grpc.ServicerContext
    ) -> articles_pb2.Article:
        return article_to_proto(self.articles.create(current_principal(), article_fields_from_proto(request.article)))

    def GetArticle(
        self, request: articles_pb2.GetArticleRequest, context: grpc.ServicerContext
    ) -> articles_pb2.Article:
        return article_to_proto(self.articles.get(current_principal(), request.id))

    def ListArticles(
        self, request: articles_pb2.ListArticlesRequest, context: grpc.ServicerContext
    ) -> articles_pb2.ListArticlesResponse:
        found, token = self.articles.list(current_principal(), request.page_size, request.page_token, request.filter)
        return articles_pb2.ListArticlesResponse(articles=[article_to_proto(a) for a in found], next_page_token=token)

    def UpdateArticle(
        self, request: articles_pb2.UpdateArticleRequest, context: grpc.ServicerContext
    ) -> articles_pb2.Article:
        updated = self.articles.update(
            current_principal(),
            request.id,
            article_fields_from_proto(request.article),
            list(request.update_mask.paths),
            request.article.etag,
        )
        return article_to_proto(updated)

    def DeleteArticle(
        self, request: articles_pb2.DeleteArticleRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.articles.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()

    def PublishArticle(
        self, request: articles_pb2.PublishArticleRequest, context: grpc.ServicerContext
    ) -> articles_pb2.Article:
        return article_to_proto(self.articles.publish(current_principal(), request.id, request.etag))

    def UnpublishArticle(
        self, request: articles_pb2.UnpublishArticleRequest, context: grpc.ServicerContext
    ) -> articles_pb2.Article:
        return article_to_proto(self.articles.unpublish(current_principal(), request.id, request.etag))

    def SearchArticles(
        self, request: articles_pb2.SearchArticlesRequest, context: grpc.ServicerContext
    ) -> articles_pb2.SearchArticlesResponse:
        return _matches(self.articles.search(current_principal(), request.q, request.category_id, request.page_size))

    def SuggestArticles(
        self, request: articles_pb2.SuggestArticlesRequest, context: grpc.ServicerContext
    ) -> articles_pb2.SearchArticlesResponse:
        return _matches(self.articles.suggest(current_principal(), request.id, request.page_size))

    def CreateArticleCategory(
        self, request: articles_pb2.CreateArticleCategoryRequest, context: grpc.ServicerContext
    ) -> articles_pb2.ArticleCategory:
        given = request.article_category
        return category_to_proto(self.articles.create_category(current_principal(), given.name, given.description))

    def GetArticleCategory(
        self, request: articles_pb2.GetArticleCategoryRequest, context: grpc.ServicerContext
    ) -> articles_pb2.ArticleCategory:
        return category_to_proto(self.articles.get_category(current_principal(), request.id))

    def ListArticleCategories(
        self, request: articles_pb2.ListArticleCategoriesRequest, context: grpc.ServicerContext
    ) -> articles_pb2.ListArticleCategoriesResponse:
        found, token = self.articles.list_categories(current_principal(), request.page_size, request.page_token)
        return articles_pb2.ListArticleCategoriesResponse(
            article_categories=[category_to_proto(c) for c in found], next_page_token=token
        )


GroupBy = metrics_pb2.GetSupportMetricsRequest.GroupBy


def _time(request: object, name: str) -> dt.datetime | None:
    if not request.HasField(name):  # type: ignore[attr-defined]
        return None
    return getattr(request, name).ToDatetime(tzinfo=dt.UTC)  # type: ignore[no-any-return]


class SupportMetricsServicer(metrics_pb2_grpc.SupportMetricsServiceServicer):
    def __init__(self, support_metrics: SupportMetrics) -> None:
        self.support_metrics = support_metrics

    def GetSupportMetrics(
        self, request: metrics_pb2.GetSupportMetricsRequest, context: grpc.ServicerContext
    ) -> metrics_pb2.SupportMetrics:
        start, end = _time(request, "start_time"), _time(request, "end_time")
        group_by = enum_name(GroupBy, request.group_by) if request.group_by in GroupBy.values() else "?"
        report = self.support_metrics.report(current_principal(), start, end, group_by)
        assert start is not None and end is not None
        return metrics_to_proto(report, start, end)


class SurveysServicer(surveys_pb2_grpc.SurveysServiceServicer):
    def __init__(self, surveys: Surveys) -> None:
        self.surveys = surveys

    def CreateSurvey(
        self, request: surveys_pb2.CreateSurveyRequest, context: grpc.ServicerContext
    ) -> surveys_pb2.Survey:
        given = request.survey
        kind = enum_name(surveys_pb2.Survey.Kind, given.kind)
        survey, token = self.surveys.create(current_principal(), kind, given.requester_id)
        return survey_to_proto(survey, token)

    def GetSurvey(self, request: surveys_pb2.GetSurveyRequest, context: grpc.ServicerContext) -> surveys_pb2.Survey:
        return survey_to_proto(*self.surveys.get(current_principal(), request.id))

    def SubmitSurveyResponse(
        self, request: surveys_pb2.SubmitSurveyResponseRequest, context: grpc.ServicerContext
    ) -> surveys_pb2.SurveyResponse:
        # Public (crm.common.v1.public): the principal may be anonymous; the token authorises.
        score = request.score if request.HasField("score") else None
        answered = self.surveys.submit(request.token, score, request.comment)
        response = survey_response_to_proto(answered)
        assert response is not None
        return response
